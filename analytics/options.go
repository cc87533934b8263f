package analytics

import (
	"fmt"
	"strings"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics/sketch"
	"github.com/vexfs/semevent/propagation"
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

	// Key picks the key of an event (default: one key, ""). See [ByPath],
	// [ByTopic], [ByTenant], [ByKind].
	Key func(*semevent.Event) string
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
	// OnError receives errors that have no caller to return to: refused
	// publishes (*PublishError).
	OnError func(error)
	// Publisher, when set, receives every result as an event (see
	// [ResultEvent]) and every anomaly (see [AnomalyEvent]).
	Publisher propagation.Propagator
	// PublishTimeout bounds each publish (default 1s): a processor
	// subscribed, under the Block policy, to the bus it publishes to
	// would otherwise deadlock once the queues between it and itself
	// fill. A publish that times out is a *PublishError.
	PublishTimeout time.Duration

	// Anomaly, when set, scores the count of every result per key and
	// reports anomalies to OnAnomaly and the Publisher.
	Anomaly   *DetectorOptions
	OnAnomaly func(Anomaly)

	// Forecast, when set, fits a Holt-Winters model per key to the counts
	// of its results and sets Result.Next, the forecast for the next
	// window.
	Forecast *ForecastOptions
	// Store, when set, receives every result's count as series
	// "<Name>.<Key>" at the window's end, for range queries.
	Store *Store

	// IncludeAnalytics makes the processor aggregate events whose topic
	// starts with "analytics." too; by default it skips them so that a
	// processor subscribed to the bus it publishes to does not feed on
	// its own results.
	IncludeAnalytics bool
}

// Validate reports every problem with o, joined; nil o is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	var ps problems
	bad := ps.add
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
	if o.MaxOutOfOrder < 0 {
		bad("MaxOutOfOrder", "negative (%v)", o.MaxOutOfOrder)
	}
	if o.AllowedLateness < 0 {
		bad("AllowedLateness", "negative (%v)", o.AllowedLateness)
	}
	if o.Tick < 0 {
		bad("Tick", "negative (%v)", o.Tick)
	}
	if o.IdleTimeout < 0 {
		bad("IdleTimeout", "negative (%v)", o.IdleTimeout)
	}
	if o.PublishTimeout < 0 {
		bad("PublishTimeout", "negative (%v)", o.PublishTimeout)
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
	if o.Anomaly != nil {
		if err := o.Anomaly.Validate(); err != nil {
			ps = append(ps, err)
		}
	}
	if o.Forecast != nil {
		if err := o.Forecast.Validate(); err != nil {
			ps = append(ps, err)
		}
	}
	return ps.join()
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
	if c.PublishTimeout == 0 {
		c.PublishTimeout = time.Second
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

// Key functions for Options.Key.
var (
	ByPath   = func(ev *semevent.Event) string { return ev.Path }
	ByTopic  = func(ev *semevent.Event) string { return ev.TopicOrKind() }
	ByTenant = func(ev *semevent.Event) string { return ev.Tenant }
	ByKind   = func(ev *semevent.Event) string { return ev.Kind.String() }
)
