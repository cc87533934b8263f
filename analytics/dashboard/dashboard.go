// Package dashboard serves a live web dashboard of a semevent pipeline:
// one page, its script and style embedded in the binary (no CDN), showing
// throughput with a Holt-Winters forecast band, delivery latency
// percentiles, window results, top paths and anomalies, and the system
// around them — bus subscriptions, journal, cluster, automation and
// capture, each panel once its source is wired — redrawn from a
// server-sent-events stream.
//
// # Usage
//
//	d, err := dashboard.New(&dashboard.Options{Title: "files", Bus: bus.Stats})
//	defer d.Close(ctx)
//	proc, err := analytics.New(&analytics.Options{
//		Aggs:      analytics.TopK | analytics.Quantiles,
//		OnResult:  d.ObserveResult,
//		Anomaly:   &analytics.DetectorOptions{},
//		OnAnomaly: d.ObserveAnomaly,
//	})
//	http.Handle("/", d)
//
// The handler answers GET / (the page), /app.js, /style.css, /snapshot
// (the current [Snapshot] as JSON) and /events (a text/event-stream of
// snapshots, one per Options.Interval).
//
// # Concurrency
//
// All methods may be called concurrently. New starts one sampler
// goroutine that reads Options.Bus every Interval; Close stops it and
// ends open event streams.
//
// # Errors
//
// New returns a *[semevent.OptionsError] listing every invalid option.
//
// # Testing
//
// Give Options.Bus a fixed Stats function and read /snapshot with
// net/http/httptest; the example program examples/dashboard has a test
// that drives the page in headless Chromium.
package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/sketch"
	"github.com/vexfs/semevent/propagation"
)

//go:embed assets
var assets embed.FS

// Options configure a [Dashboard]; nil means defaults.
type Options struct {
	Title    string                   // page title (default "semevent")
	Bus      func() propagation.Stats // throughput and latency source; nil hides them
	Interval time.Duration            // sampling and push interval (default 1s)
	History  int                      // points kept per chart (default 120)
	TopN     int                      // top paths shown (default 10)
	// Patterns, when set, lists frequent event sequences to show, such as
	// an analytics.Miner's Top.
	Patterns func() []analytics.FrequentSequence

	// System panels (see [JournalPanel] and the types beside it): each
	// source, when set, adds its panel to the page. Options.Bus also adds
	// the bus subscriptions panel. A source is called once per Interval
	// (Capture) or per snapshot (the others), from the dashboard's
	// goroutines: it must be safe for concurrent use.
	Journal    func() JournalPanel
	Cluster    func() ClusterPanel
	Automation func() AutomationPanel
	Capture    func() CapturePanel
	// Now returns the wall time (default time.Now).
	Now func() time.Time
}

// Validate reports every problem with o as a *[semevent.OptionsError];
// nil o is valid.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "dashboard.Options"}
	if o.Interval < 0 {
		e.Addf("Interval", "negative (%v)", o.Interval)
	}
	if o.History < 0 || o.History > 100000 {
		e.Addf("History", "%d outside [0, 100000]", o.History)
	}
	if o.TopN < 0 || o.TopN > 1000 {
		e.Addf("TopN", "%d outside [0, 1000]", o.TopN)
	}
	return e.Err()
}

// Snapshot is what the page draws; /snapshot and /events send it as JSON.
type Snapshot struct {
	Title      string             `json:"title"`
	Time       int64              `json:"time"` // Unix milliseconds
	Throughput []Sample           `json:"throughput"`
	Forecast   []Band             `json:"forecast"`
	Latency    []LatencySample    `json:"latency"`
	Windows    []WindowPoint      `json:"windows"`
	Keys       []string           `json:"keys"` // the keys drawn in Windows, busiest first
	Top        []TopEntry         `json:"top"`
	Anomalies  []AnomalyPoint     `json:"anomalies"`
	Patterns   []PatternEntry     `json:"patterns"`
	Totals     map[string]float64 `json:"totals"`

	// System panels: nil (absent from the JSON) when their source is not
	// wired.
	Subscriptions []SubscriptionRow `json:"subscriptions,omitempty"`
	Journal       *JournalPanel     `json:"journal,omitempty"`
	Cluster       *ClusterPanel     `json:"cluster,omitempty"`
	Automation    *AutomationPanel  `json:"automation,omitempty"`
	Capture       *CaptureView      `json:"capture,omitempty"`
}

// Sample is one point of a series.
type Sample struct {
	T int64   `json:"t"` // Unix milliseconds
	V float64 `json:"v"`
}

// Band is a forecast point with its prediction interval.
type Band struct {
	T  int64   `json:"t"`
	V  float64 `json:"v"`
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// LatencySample holds delivery latency percentiles in milliseconds.
type LatencySample struct {
	T   int64   `json:"t"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// WindowPoint is one closed window: counts per key and value quantiles.
type WindowPoint struct {
	T      int64              `json:"t"` // window end, Unix milliseconds
	Total  float64            `json:"total"`
	Counts map[string]float64 `json:"counts"`
	P50    float64            `json:"p50"`
	P99    float64            `json:"p99"`
}

// TopEntry is one heavy hitter of the latest complete window.
type TopEntry struct {
	Key   string  `json:"key"`
	Count float64 `json:"count"`
}

// PatternEntry is one frequent sequence.
type PatternEntry struct {
	Steps   []string `json:"steps"`
	Support uint64   `json:"support"`
}

// AnomalyPoint is one anomaly as drawn.
type AnomalyPoint struct {
	T        int64   `json:"t"`
	Key      string  `json:"key"`
	Value    float64 `json:"value"`
	Baseline float64 `json:"baseline"`
	Score    float64 `json:"score"`
}

// Dashboard is the http.Handler. Create it with [New].
type Dashboard struct {
	o      Options
	static http.Handler

	mu        sync.Mutex // guards the fields below
	prev      propagation.Stats
	prevT     time.Time
	sampled   bool
	through   []Sample
	latency   []LatencySample
	hw        *analytics.HoltWinters
	windows   map[int64]*window // by end, Unix nanoseconds
	anomalies []AnomalyPoint
	totals    map[string]float64
	subs      []SubscriptionRow
	capture   CapturePanel
	captureT  time.Time
	opsPerSec []Sample

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type window struct {
	end    int64
	counts map[string]float64
	top    *sketch.TopK
	q      *sketch.DDSketch
}

var _ http.Handler = (*Dashboard)(nil)

// New returns a Dashboard and starts its sampler; call Close to stop it.
func New(opts *Options) (*Dashboard, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Title == "" {
		o.Title = "semevent"
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if o.History == 0 {
		o.History = 120
	}
	if o.TopN == 0 {
		o.TopN = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sub, _ := fs.Sub(assets, "assets")
	hw, _ := analytics.NewHoltWinters(&analytics.ForecastOptions{Alpha: 0.5, Beta: 0.05})
	d := &Dashboard{o: o, static: http.FileServerFS(sub), hw: hw,
		windows: map[int64]*window{}, totals: map[string]float64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	d.Sample() // the baseline the first rate is measured from
	go d.sampler()
	return d, nil
}

// Close stops the sampler and ends open event streams, waiting for the
// sampler to return or ctx to end (then it returns ctx's error). It is
// idempotent and safe in any order with the components the dashboard
// reads.
func (d *Dashboard) Close(ctx context.Context) error {
	d.once.Do(func() { close(d.stop) })
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Dashboard) sampler() {
	defer close(d.done)
	t := time.NewTicker(d.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.Sample()
		}
	}
}

func trim[T any](s []T, n int) []T {
	if len(s) > n {
		return slices.Delete(s, 0, len(s)-n)
	}
	return s
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Sample reads the bus and the capture counters once; the sampler calls
// it every Interval.
func (d *Dashboard) Sample() {
	now := d.o.Now()
	if d.o.Capture != nil {
		d.sampleCapture(d.o.Capture(), now)
	}
	if d.o.Bus == nil {
		return
	}
	s := d.o.Bus()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.subs = subscriptionRows(s)
	if d.sampled {
		if dt := now.Sub(d.prevT).Seconds(); dt > 0 {
			rate := float64(s.Published-d.prev.Published) / dt
			d.through = trim(append(d.through, Sample{ms(now), rate}), d.o.History)
			d.hw.Observe(rate)
		}
	}
	l := s.Latency
	d.latency = trim(append(d.latency, LatencySample{ms(now), durMs(l.P50), durMs(l.P90), durMs(l.P99)}), d.o.History)
	d.prev, d.prevT, d.sampled = s, now, true
	d.totals["published"] = float64(s.Published)
	d.totals["delivered"] = float64(s.Delivered)
	d.totals["dropped"] = float64(s.Dropped.Total())
	d.totals["panics"] = float64(s.Panics)
}

// sampleCapture turns the FUSE operation counter into a rate.
func (d *Dashboard) sampleCapture(c CapturePanel, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.captureT.IsZero() && c.FUSEOps >= d.capture.FUSEOps {
		if dt := now.Sub(d.captureT).Seconds(); dt > 0 {
			rate := float64(c.FUSEOps-d.capture.FUSEOps) / dt
			d.opsPerSec = trim(append(d.opsPerSec, Sample{ms(now), rate}), d.o.History)
		}
	}
	d.capture, d.captureT = c, now
}

func durMs(d time.Duration) float64 { return float64(d) / 1e6 }

// ObserveResult records a window result; pass it as Options.OnResult of
// an analytics.Processor (or call it from yours).
func (d *Dashboard) ObserveResult(r analytics.Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w := d.windows[r.End]
	if w == nil {
		w = &window{end: r.End, counts: map[string]float64{}}
		d.windows[r.End] = w
		if len(d.windows) > d.o.History {
			oldest := int64(math.MaxInt64)
			for e := range d.windows {
				oldest = min(oldest, e)
			}
			delete(d.windows, oldest)
		}
	}
	w.counts[r.Key.String()] = float64(r.Agg.Count) // an update replaces
	if r.Agg.TopK != nil {
		if w.top == nil {
			w.top = r.Agg.TopK.Clone()
		} else {
			_ = w.top.Merge(r.Agg.TopK)
		}
	}
	if r.Agg.Quantiles != nil {
		if w.q == nil {
			w.q = r.Agg.Quantiles.Clone()
		} else {
			_ = w.q.Merge(r.Agg.Quantiles)
		}
	}
	d.totals["window_results"]++
}

// ObserveAnomaly records an anomaly; pass it as Options.OnAnomaly.
func (d *Dashboard) ObserveAnomaly(a analytics.Anomaly) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.anomalies = trim(append(d.anomalies, AnomalyPoint{a.Time / 1e6, a.Key.String(), a.Value, a.Baseline, a.Score}), 50)
	d.totals["anomalies"]++
}

// Snapshot returns what the page would draw now.
func (d *Dashboard) Snapshot() Snapshot {
	var patterns []PatternEntry
	if d.o.Patterns != nil {
		for _, p := range d.o.Patterns() {
			patterns = append(patterns, PatternEntry{p.Steps, p.Support})
		}
	}
	// The sources run without the lock: they may take a while.
	var sys Snapshot
	if d.o.Journal != nil {
		j := d.o.Journal()
		sys.Journal = &j
	}
	if d.o.Cluster != nil {
		c := d.o.Cluster()
		sys.Cluster = &c
	}
	if d.o.Automation != nil {
		a := d.o.Automation()
		sys.Automation = &a
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Snapshot{Title: d.o.Title, Time: ms(d.o.Now()),
		Throughput: slices.Clone(d.through), Latency: slices.Clone(d.latency),
		Anomalies: slices.Clone(d.anomalies), Totals: map[string]float64{}, Patterns: patterns}
	for k, v := range d.totals {
		s.Totals[k] = v
	}
	s.Journal, s.Cluster, s.Automation = sys.Journal, sys.Cluster, sys.Automation
	if d.o.Bus != nil {
		s.Subscriptions = slices.Clone(d.subs)
	}
	if d.o.Capture != nil && !d.captureT.IsZero() {
		s.Capture = &CaptureView{CapturePanel: d.capture, OpsPerSec: slices.Clone(d.opsPerSec)}
	}
	if n := len(d.through); n > 1 && d.hw.Observations() > 2 {
		step := d.through[n-1].T - d.through[n-2].T
		for i, p := range d.hw.Forecast(10) {
			s.Forecast = append(s.Forecast, Band{T: d.through[n-1].T + int64(i+1)*step, V: max(p.Value, 0), Lo: max(p.Lower, 0), Hi: max(p.Upper, 0)})
		}
	}
	ends := make([]int64, 0, len(d.windows))
	for e := range d.windows {
		ends = append(ends, e)
	}
	slices.Sort(ends)
	keyTotal := map[string]float64{}
	for _, e := range ends {
		w := d.windows[e]
		wp := WindowPoint{T: e / 1e6, Counts: maps.Clone(w.counts), P50: math.NaN(), P99: math.NaN()}
		for k, c := range w.counts {
			wp.Total += c
			keyTotal[k] += c
		}
		if w.q != nil {
			wp.P50, wp.P99 = w.q.Quantile(0.5), w.q.Quantile(0.99)
		}
		s.Windows = append(s.Windows, wp)
	}
	for k := range keyTotal {
		s.Keys = append(s.Keys, k)
	}
	slices.SortFunc(s.Keys, func(a, b string) int {
		if keyTotal[a] != keyTotal[b] {
			if keyTotal[a] > keyTotal[b] {
				return -1
			}
			return 1
		}
		if a < b {
			return -1
		}
		return 1
	})
	s.Keys = s.Keys[:min(len(s.Keys), 6)]
	// Top paths: the latest window with a TopK summary, else the latest
	// window's keys.
	for i := len(ends) - 1; i >= 0 && s.Top == nil; i-- {
		w := d.windows[ends[i]]
		if w.top != nil {
			for _, c := range w.top.Top(d.o.TopN) {
				s.Top = append(s.Top, TopEntry{c.Key, float64(c.Count)})
			}
		} else if i == len(ends)-1 {
			for k, c := range w.counts {
				s.Top = append(s.Top, TopEntry{k, c})
			}
			slices.SortFunc(s.Top, func(a, b TopEntry) int {
				if a.Count != b.Count {
					if a.Count > b.Count {
						return -1
					}
					return 1
				}
				if a.Key < b.Key {
					return -1
				}
				return 1
			})
			s.Top = s.Top[:min(len(s.Top), d.o.TopN)]
			break
		}
	}
	return s
}

// encodeSnapshot marshals s with NaN and infinities, which JSON cannot
// carry, replaced by -1 (the page draws no negative values).
func encodeSnapshot(s Snapshot) []byte {
	b, err := json.Marshal(sanitize(s))
	if err != nil {
		return []byte(`{}`)
	}
	return b
}

func nan(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return -1
	}
	return f
}

func sanitize(s Snapshot) Snapshot {
	for i := range s.Windows {
		s.Windows[i].P50, s.Windows[i].P99 = nan(s.Windows[i].P50), nan(s.Windows[i].P99)
	}
	for i := range s.Forecast {
		f := &s.Forecast[i]
		f.V, f.Lo, f.Hi = nan(f.V), nan(f.Lo), nan(f.Hi)
	}
	for i := range s.Anomalies {
		a := &s.Anomalies[i]
		a.Value, a.Baseline, a.Score = nan(a.Value), nan(a.Baseline), nan(a.Score)
	}
	if s.Cluster != nil {
		c := *s.Cluster
		c.Peers = slices.Clone(c.Peers) // the source's slice stays as it was
		for i := range c.Peers {
			c.Peers[i].Phi = nan(c.Peers[i].Phi)
		}
		s.Cluster = &c
	}
	if s.Capture != nil {
		c := *s.Capture
		c.OpsPerSec = slices.Clone(c.OpsPerSec)
		for i := range c.OpsPerSec {
			c.OpsPerSec[i].V = nan(c.OpsPerSec[i].V)
		}
		s.Capture = &c
	}
	return s
}

// ServeHTTP serves the page, its assets, /snapshot and /events.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/snapshot":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(encodeSnapshot(d.Snapshot()))
	case "/events":
		d.serveEvents(w, r)
	default:
		d.static.ServeHTTP(w, r)
	}
}

func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	t := time.NewTicker(d.o.Interval)
	defer t.Stop()
	for {
		if _, err := fmt.Fprintf(w, "retry: 2000\ndata: %s\n\n", encodeSnapshot(d.Snapshot())); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-d.stop:
			return
		case <-t.C:
		}
	}
}
