package analytics

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/analytics/sketch"
)

// WindowKind says how a [Window] cuts time.
type WindowKind uint8

const (
	// KindTumbling windows are fixed, back to back: [0,S), [S,2S), …
	KindTumbling WindowKind = iota
	// KindSliding windows of Size start every Slide and overlap.
	KindSliding
	// KindSession windows close after Gap without events of their key.
	KindSession
)

func (k WindowKind) String() string {
	switch k {
	case KindTumbling:
		return "tumbling"
	case KindSliding:
		return "sliding"
	case KindSession:
		return "session"
	}
	return fmt.Sprintf("WindowKind(%d)", uint8(k))
}

// Window describes how events are grouped in time. Windows are half-open,
// [Start, End), aligned to multiples of Slide (tumbling and sliding) from
// the Unix epoch. The zero value is a one-second tumbling window.
type Window struct {
	Kind  WindowKind
	Size  time.Duration // tumbling and sliding
	Slide time.Duration // sliding; Size must be a multiple of it
	Gap   time.Duration // session
}

// Tumbling returns back-to-back windows of the given size.
func Tumbling(size time.Duration) Window { return Window{Kind: KindTumbling, Size: size} }

// Sliding returns windows of the given size starting every slide (hopping
// windows); size must be a multiple of slide.
func Sliding(size, slide time.Duration) Window {
	return Window{Kind: KindSliding, Size: size, Slide: slide}
}

// Session returns per-key windows that close once no event of the key
// arrived for gap: a session is [first event, last event + gap).
func Session(gap time.Duration) Window { return Window{Kind: KindSession, Gap: gap} }

// TimeMode says which clock places events in windows.
type TimeMode uint8

const (
	// EventTime uses Event.Time, with a watermark that trails the largest
	// time seen by Options.MaxOutOfOrder.
	EventTime TimeMode = iota
	// ProcessingTime uses the arrival time (Options.Clock) and closes
	// windows on a ticker.
	ProcessingTime
)

// Options configure a [Processor]. The zero value (or nil) counts all
// events in one-second event-time tumbling windows under one key.
type Options struct {
	// Name names the results: their events have topic
	// "analytics.window.<Name>" (default "window"); letters, digits, '_'
	// and '-' only.
	Name string

	Window Window
	Time   TimeMode
	// MaxOutOfOrder bounds how far behind the largest event time seen an
	// event may arrive and still be on time: the watermark is the largest
	// event time minus MaxOutOfOrder.
	MaxOutOfOrder time.Duration
	// AllowedLateness keeps a window's state after the watermark passed its
	// end, so that events up to this much later still update it; each such
	// update emits the window again with Result.Update set. Events later
	// still are late: counted in Stats.Late and passed to OnLate.
	AllowedLateness time.Duration
	// Tick is how often a ProcessingTime processor closes due windows,
	// and how often an EventTime one with IdleTimeout checks for idleness
	// (default 100ms).
	Tick time.Duration
	// IdleTimeout, in EventTime mode, lets the watermark move on when the
	// stream goes quiet: once no event arrived for IdleTimeout of
	// processing time, the watermark advances with the processing time
	// elapsed since the last event, so the last windows close without
	// waiting for new events. 0 disables it (then only events,
	// [Processor.Advance] and Flush move it).
	IdleTimeout time.Duration
	// Clock returns the processing time in Unix nanoseconds (default
	// time.Now).
	Clock func() int64
	// MaxFuture bounds how far ahead of the processing clock (Clock) an
	// event's time may be, in EventTime mode: an event with Time >
	// Clock() + MaxFuture is refused — not aggregated, and it does not
	// move the watermark — counted in Stats.Future and passed to
	// OnFuture. Without the bound, one event from any tenant with a
	// far-future time would move the one watermark that every key and
	// tenant shares, and make every later event late. 0 means
	// [DefaultMaxFuture]; < 0 disables the bound (for replaying a
	// recorded stream whose times are ahead of the clock, say).
	MaxFuture time.Duration

	// Key picks the key of an event: results are per key and window
	// (default [semevent.PathKey]; see also [semevent.TenantKey],
	// [TopicKey], [KindKey]). The processor always sets the key's Tenant
	// to the event's tenant, so window groups never mix tenants whatever
	// the function returns.
	Key semevent.KeyFunc
	// MaxKeys caps the per-key aggregates held at once, summed over the
	// open panes (tumbling, sliding) or sessions: default
	// [DefaultMaxKeys], < 0 for no cap. An event that needs a new
	// aggregate beyond the cap is refused — not aggregated — and counted
	// in Stats.KeyOverflow, so that attacker-chosen keys cannot grow the
	// heap without bound while the windows already open stay exact. A
	// key's state without sketches costs at most [MaxKeyBytes] (about
	// 170 bytes in tumbling and sliding panes, 310 in sessions, with a
	// short key), so window state stays under 40 MiB at the default;
	// sketches add their own size per key (HyperLogLog 2^HLLPrecision
	// bytes, DDSketch and TopK a few KiB), so lower MaxKeys when Aggs
	// keeps sketches. Sliding windows are merged from panes when they
	// close, which needs one more aggregate per key for a moment.
	MaxKeys int
	// Value picks the number that Sum, Min, Max, Mean and Quantiles
	// aggregate (default Event.Size).
	Value func(*semevent.Event) float64
	// DistinctOf picks what Distinct and ApproxDistinct count (default the
	// inode, or a 64-bit hash of the path when the inode is 0).
	DistinctOf func(*semevent.Event) uint64
	// TopOf picks the label that TopK counts (default the path).
	TopOf func(*semevent.Event) string

	// Aggs selects the sketches to keep besides count/sum/min/max/mean.
	Aggs             Agg
	HLLPrecision     int     // ApproxDistinct registers 2^p (default 14)
	QuantileAccuracy float64 // Quantiles relative accuracy (default 0.01)
	TopKCapacity     int     // TopK counters (default 64)

	// OnResult receives every window result. It runs on the goroutine that
	// called Handle, Advance or Flush (the ticker's, in ProcessingTime
	// mode), with no lock held; it owns the Result.
	OnResult func(Result)
	// OnLate receives events too late for any window (the side output).
	OnLate func(*semevent.Event)
	// OnFuture receives events refused for being more than MaxFuture
	// ahead of the processing clock.
	OnFuture func(*semevent.Event)
	// OnError receives errors that have no caller to return to: refused
	// publishes (*PublishError).
	OnError func(error)
	// Logger receives the processor's log lines (component "analytics",
	// attribute "processor" = Name): refused publishes (error, "topic",
	// "err") and events refused by MaxFuture (warning, "event", "tenant",
	// "time"), each logged the first time and then at most every 10s as a
	// summary whose "count" says how many occurred. nil means
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
	// Publisher, when set, receives every result as an event (see
	// [ResultEvent]) and every anomaly (see [AnomalyEvent]); a
	// propagation bus is one. Each event carries the key's tenant.
	Publisher semevent.Publisher
	// PublishTimeout bounds each publish, through
	// [semevent.PublishTimeout]: 0 means [semevent.DefaultPublishTimeout],
	// < 0 no bound. A processor subscribed to the bus it publishes to
	// would otherwise wait for itself forever once the queues between it
	// and itself fill under the Block policy. A publish that fails or
	// times out is counted in Stats.PublishErrors and passed to OnError
	// as a *[PublishError].
	PublishTimeout time.Duration
	// Principal is who publishes the results on a bus with an
	// authorizer: each publish's context carries it
	// ([access.WithPrincipal]). Without it an authorized bus refuses the
	// results ("no principal"). It needs the publish operation on the
	// topics "analytics.window.<Name>" and "analytics.anomaly.<Name>" for
	// every tenant whose events it aggregates, for example:
	//
	//	access.Grant{Roles: []string{"analytics"}, Ops: []access.Op{access.OpPublish},
	//		Topics: []string{"analytics.>"}}
	Principal *access.Principal

	// Anomaly, when set, scores the count of every result per key and
	// reports anomalies to OnAnomaly and the Publisher.
	Anomaly   *DetectorOptions
	OnAnomaly func(Anomaly)

	// Forecast, when set, fits a Holt-Winters model per key to the counts
	// of its results and sets Result.Next, the forecast for the next
	// window.
	Forecast *ForecastOptions
	// Series, when set, receives every complete result's count as series
	// "<Name>.<Key>" at the window's end, for range queries.
	Series *SeriesStore

	// IncludeAnalytics makes the processor aggregate events whose topic
	// starts with "analytics." too; by default it skips them so that a
	// processor subscribed to the bus it publishes to does not feed on
	// its own results.
	IncludeAnalytics bool
}

// Validate reports every problem with o as a *[semevent.OptionsError];
// nil o is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "analytics.Options"}
	bad := e.Addf
	if o.Name != "" && strings.ContainsFunc(o.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
	}) {
		bad("Name", "%q: only letters, digits, '_' and '-'", o.Name)
	}
	w := o.Window
	switch w.Kind {
	case KindTumbling:
		if w.Size < 0 {
			bad("Window.Size", "negative (%v)", w.Size)
		}
	case KindSliding:
		if w.Size <= 0 {
			bad("Window.Size", "must be positive, got %v", w.Size)
		}
		if w.Slide <= 0 {
			bad("Window.Slide", "must be positive, got %v", w.Slide)
		} else if w.Size > 0 && w.Size%w.Slide != 0 {
			bad("Window.Size", "%v is not a multiple of Slide %v", w.Size, w.Slide)
		}
	case KindSession:
		if w.Gap <= 0 {
			bad("Window.Gap", "must be positive, got %v", w.Gap)
		}
	default:
		bad("Window.Kind", "unknown kind %d", w.Kind)
	}
	if o.Time > ProcessingTime {
		bad("Time", "unknown mode %d", o.Time)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Window.Size", w.Size}, {"Window.Slide", w.Slide}, {"Window.Gap", w.Gap},
		{"MaxOutOfOrder", o.MaxOutOfOrder}, {"AllowedLateness", o.AllowedLateness}} {
		if d.v > MaxTime {
			bad(d.field, "%v above MaxTime", d.v)
		}
	}
	negative(e, "MaxOutOfOrder", float64(o.MaxOutOfOrder))
	negative(e, "AllowedLateness", float64(o.AllowedLateness))
	if o.Tick < 0 {
		bad("Tick", "negative (%v)", o.Tick)
	}
	if o.IdleTimeout < 0 {
		bad("IdleTimeout", "negative (%v)", o.IdleTimeout)
	}
	if o.Aggs&^(Distinct|ApproxDistinct|Quantiles|TopK) != 0 {
		bad("Aggs", "unknown bits %#x", uint8(o.Aggs&^(Distinct|ApproxDistinct|Quantiles|TopK)))
	}
	if p := o.HLLPrecision; p != 0 && (p < sketch.MinPrecision || p > sketch.MaxPrecision) {
		bad("HLLPrecision", "%d outside [%d, %d]", p, sketch.MinPrecision, sketch.MaxPrecision)
	}
	if a := o.QuantileAccuracy; a != 0 && !(a >= 1e-4 && a < 0.5) {
		bad("QuantileAccuracy", "%v outside [0.0001, 0.5)", a)
	}
	if o.TopKCapacity < 0 {
		bad("TopKCapacity", "negative (%d)", o.TopKCapacity)
	}
	o.Anomaly.check(e, "Anomaly.")
	o.Forecast.check(e, "Forecast.")
	return e.Err()
}

// withDefaults returns a copy of o with zero fields set to defaults.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Name == "" {
		c.Name = "window"
	}
	if c.Window.Kind == KindTumbling {
		if c.Window.Size == 0 {
			c.Window.Size = time.Second
		}
		c.Window.Slide = c.Window.Size
	}
	if c.Tick == 0 {
		c.Tick = 100 * time.Millisecond
	}
	if c.MaxFuture == 0 {
		c.MaxFuture = DefaultMaxFuture
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
	if c.Key == nil {
		c.Key = semevent.PathKey
	}
	if c.Clock == nil {
		c.Clock = func() int64 { return time.Now().UnixNano() }
	}
	if c.DistinctOf == nil {
		c.DistinctOf = func(ev *semevent.Event) uint64 {
			if ev.Inode != 0 {
				return ev.Inode
			}
			return sketch.HashString(ev.Path)
		}
	}
	if c.TopOf == nil {
		c.TopOf = func(ev *semevent.Event) string { return ev.Path }
	}
	return c
}

// Defaults of [Options].
const (
	// DefaultMaxFuture is Options.MaxFuture's default.
	DefaultMaxFuture = time.Minute
	// DefaultMaxKeys is Options.MaxKeys's default.
	DefaultMaxKeys = 100_000
	// MaxKeyBytes is the documented heap cost of one key's window state
	// without sketches, for a key of up to 32 bytes: MaxKeys times it
	// bounds the window state's memory (TestMaxKeysBoundsHeap checks it
	// with 500,000 attacker keys).
	MaxKeyBytes = 400
)

// TopicKey keys an event by its tenant and topic (its kind's topic when
// Topic is empty), for Options.Key.
func TopicKey(ev *semevent.Event) semevent.Key {
	return semevent.Key{Tenant: ev.Tenant, S: ev.TopicOrKind()}
}

// KindKey keys an event by its tenant and kind ("write", "create", …),
// for Options.Key.
func KindKey(ev *semevent.Event) semevent.Key {
	return semevent.Key{Tenant: ev.Tenant, S: ev.Kind.String()}
}
