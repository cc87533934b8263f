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
// [Processor]; a nil *[Options] counts events per path
// ([semevent.PathKey]) in one-second event-time tumbling windows:
//
//	p, err := analytics.New(&analytics.Options{
//		Window:        analytics.Sliding(time.Minute, 10*time.Second),
//		MaxOutOfOrder: 2 * time.Second,
//		Key:           semevent.TenantKey,
//		Aggs:          analytics.Quantiles | analytics.ApproxDistinct | analytics.TopK,
//		OnResult:      func(r analytics.Result) { ... },
//		Publisher:     bus, // results come back as "analytics.window.<Name>" events
//		Principal:     &access.Principal{User: "analytics", Roles: []string{"analytics"}},
//	})
//	sub, err := bus.Subscribe(p, nil)
//	defer p.Close(ctx)
//
// # Keys and tenants
//
// Windows are per [semevent.Key]: Options.Key picks it (default
// [semevent.PathKey]; [semevent.TenantKey], [TopicKey], [KindKey] or
// your own [semevent.KeyFunc]), and the processor always sets the key's
// Tenant to the event's, so no window, anomaly baseline or forecast ever
// mixes two tenants' events. A result event carries its key's tenant as
// Event.Tenant. Options.MaxKeys caps the per-key aggregates held at once
// (default [DefaultMaxKeys]); an event that would need one more is
// refused and counted in [Stats].KeyOverflow.
//
// Every per-key structure of the package has a cap, with a default and a
// counter: window aggregates (Options.MaxKeys, [Stats].KeyOverflow), the
// anomaly baselines (DetectorOptions.MaxKeys, [DetectorStats].Unscored),
// the forecasters (10,000 keys; later keys get no Result.Next), the
// [Miner]'s keys, labels and sequences (MinerOptions.MaxKeys, MaxLabels,
// MaxSequences; [MinerStats]) and the [SeriesStore]'s series
// (SeriesStoreOptions.MaxSeries).
//
// # Publishing on an authorized bus
//
// With Options.Publisher a bus that has an authorizer, give the processor
// its own Options.Principal: every publish carries it. The principal must
// not be tenant-bound (results of every tenant are published) and needs
// a role that may publish the result topics, for example:
//
//	access.Role{Name: "analytics", Grants: []access.Grant{{
//		Ops:    []access.Op{access.OpPublish},
//		Topics: []string{"analytics.window.>", "analytics.anomaly.>"},
//	}}}
//
// Each publish is bounded by Options.PublishTimeout (0 means
// [semevent.DefaultPublishTimeout]; < 0 none), the same as every
// component that publishes into the bus it listens to.
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
// time + AllowedLateness is before it. A window an allowed-late event
// changes is emitted again at once when the watermark already passed its
// end: a tumbling or sliding window, a session the event extends or
// merges, and a session the event creates whose end is already behind the
// watermark (emitted for the first time). Result.Update is set exactly
// when an earlier result of the same key and window (for sessions: of a
// session it covers) was emitted; never on a first emission.
//
// The watermark is one for all keys and tenants. So that one event with a
// far-future time cannot make every tenant's later events late, an event
// more than Options.MaxFuture (default [DefaultMaxFuture]) ahead of the
// processing clock is refused: not aggregated, the watermark unmoved,
// counted in [Stats].Future and passed to Options.OnFuture.
// [Processor.Advance] moves the
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
// counts in a [SeriesStore]. A [Miner] counts [FrequentSequence]s per
// file ("open *.tmp → write *.tmp → close *.tmp → rename *.tmp") with
// their support. [HoltWinters] forecasts a windowed series with a
// prediction interval. A [SeriesStore] keeps series in rings at several
// resolutions and answers range queries.
//
// Flush and Close emit the windows the watermark has not closed with
// Result.Partial set: they may lack events. Partial results are not
// scored by the anomaly detector, fed to the forecaster or stored, so a
// shutdown raises no false anomaly.
//
// Metrics for Prometheus are in the subpackage analytics/promexport (the
// only one that imports the Prometheus client), health checks in
// analytics/health and the live dashboard in analytics/dashboard.
//
// Event times are clamped to ±[MaxTime] (the years 1824 to 2116), and
// window sizes, gaps, MaxOutOfOrder and AllowedLateness may not exceed
// it; window arithmetic saturates instead of overflowing, so events at
// the extremes land in the windows that hold their clamped times.
//
// # Concurrency
//
// Every method of [Processor], [Miner], [Detector] and [SeriesStore] may be
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
// [New] and the other constructors return a *[semevent.OptionsError]
// (wrapping [semevent.ErrInvalidOptions]) listing every problem. Handle returns
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
