// Package analytics turns the event stream into numbers people can act on:
// event-time windows (tumbling, sliding, session; keyed) with watermarks
// and allowed lateness, exact and sketched aggregates that merge across
// shards and nodes, anomaly detection, frequent-sequence discovery,
// Holt-Winters forecasting and an in-memory time-series store.
//
// # Usage
//
// [Analyzer] is the package's interface: Handle an event, Flush what is
// held back. It is a [semevent.Handler], so an analyzer subscribes to a
// propagation bus directly. [New] returns the windowing analyzer, a
// [Processor]; a nil *[Options] counts events in one-second event-time
// tumbling windows:
//
//	p, err := analytics.New(&analytics.Options{
//		Window:        analytics.Sliding(time.Minute, 10*time.Second),
//		MaxOutOfOrder: 2 * time.Second,
//		Key:           analytics.ByTenant,
//		Aggs:          analytics.Quantiles | analytics.ApproxDistinct | analytics.TopK,
//		OnResult:      func(r analytics.Result) { ... },
//		Publisher:     bus, // results come back as "analytics.window.<Name>" events
//	})
//	sub, err := bus.Subscribe(p, nil)
//
// # Time, watermarks and lateness
//
// In [EventTime] mode an event's window comes from Event.Time. The
// watermark is the largest event time seen minus Options.MaxOutOfOrder;
// when it passes a window's end the window is emitted, one [Result] per
// key. Events behind the watermark still count while their window is
// within Options.AllowedLateness (the window is emitted again, with
// Result.Update set); later ones are late: counted in [Stats].Late and
// handed to Options.OnLate, the side output. Precisely, an event counts in
// a tumbling or sliding window W if W.End + AllowedLateness is after the
// watermark when the event arrives, and a session event is late if its
// time + AllowedLateness is before it. [Processor.Advance] moves the
// watermark without events (from a heartbeat, say), and
// Options.IdleTimeout lets it follow the processing clock while the stream
// is quiet. In [ProcessingTime]
// mode the arrival time places events and a ticker closes windows.
//
// Sliding windows are computed from panes of one Slide each, so an event
// is aggregated once however many windows hold it. Session windows merge
// when an event bridges them; the merged result replaces the earlier ones
// it covers.
//
// # Aggregates
//
// Every [Aggregate] has count, sum, min, max and mean of Options.Value
// (the event's Size by default). [Distinct] adds an exact distinct count
// (a roaring bitmap), [ApproxDistinct] a HyperLogLog, [Quantiles] a
// DDSketch and [TopK] a Space-Saving heavy-hitter summary; their error
// bounds are in package [github.com/vexfs/semevent/analytics/sketch].
// Aggregates merge ([Aggregate.Merge]) and encode
// ([Aggregate.MarshalBinary]): a result event carries its aggregate in
// Data, and [DecodeResult] on another node gets it back for merging.
//
// # Insights
//
// A [Detector] scores values per key against an EWMA baseline and an
// optional seasonal one; set Options.Anomaly to score each window's count
// and receive [Anomaly] values through Options.OnAnomaly and as
// "analytics.anomaly.<Name>" events. Set Options.Forecast to fit a
// [HoltWinters] model per key and get Result.Next, the next window's
// forecast count with its interval, and Options.Store to keep every key's
// counts in a [Store]. A [Miner] counts frequent event sequences per file ("open *.tmp → write *.tmp → close *.tmp → rename
// *.tmp") with their support. [HoltWinters] forecasts a windowed series
// with a prediction interval. A [Store] keeps series in rings at several
// resolutions and answers range queries.
//
// Metrics for Prometheus are in the subpackage analytics/promexport (the
// only one that imports the Prometheus client), health checks in
// analytics/health and the live dashboard in analytics/dashboard.
//
// Event times are clamped to ±[MaxTime] (the years 1824 to 2116) so that
// window arithmetic cannot overflow.
//
// # Concurrency
//
// Every method of [Processor], [Miner], [Detector] and [Store] may be
// called concurrently. A Processor runs callbacks and publishes with no
// lock held, on the goroutine of the call that closed the window (Handle,
// HandleBatch, Advance, Flush, Close, or the ticker in ProcessingTime
// mode); results of concurrent calls may interleave. [HoltWinters] and
// the sketches are not safe for concurrent use. A Processor skips events
// whose topic starts with "analytics." unless Options.IncludeAnalytics is
// set, so subscribing it to the bus it publishes to does not loop.
//
// # Errors
//
// [New] and the other constructors return *[OptionError]s (wrapping
// [ErrInvalidOptions]) joined, one per problem. Handle returns
// semevent.ErrNilEvent for nil and an error wrapping semevent.ErrClosed
// after Close. [Aggregate.UnmarshalBinary] and [DecodeResult] return a
// *[DecodeError] wrapping [ErrCorrupt]. A refused publish goes to
// Options.OnError as a *[PublishError]; [Advance] returns
// [ErrUnsupported] for analyzers that cannot advance.
//
// # Testing
//
// Package [github.com/vexfs/semevent/analytics/analyticstest] has a
// recording fake Analyzer and TestAnalyzer, the conformance suite that
// the fake, [Processor] and [Miner] pass. A Processor with a fake
// Options.Clock, or in event-time mode driven by Advance, is
// deterministic.
package analytics
