// Package promexport exports semevent's statistics to Prometheus: a
// [Collector] reads the bus, analyzers, journal, router, FUSE bridge,
// kernel watcher, CEP engine, rule engine, workflow executor and health
// checker, and through [Source] functions any other component (the
// coordinator), at scrape time, under conventional names and units, each
// with a help text that says what it counts. It is the only semevent
// package that imports the Prometheus client.
//
// # Usage
//
//	c, err := promexport.New(&promexport.Options{
//		Bus:       bus.Stats,
//		Analyzers: map[string]func() analytics.Stats{"writes": proc.Stats},
//		Journal:   promexport.JournalOf(j),
//		Router:    promexport.RouterOf(table),
//		Bridge:    bridge.Stats,
//		Watcher:   watcher.Stats,
//		CEP:       patterns.Stats,
//		Rules:     engine.Stats,
//		Executor:  executor.Stats,
//		Health:    checker,
//	})
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// The metric names are listed in [Names]; alerts.yml in this directory has
// example alert rules written against them. Components without a
// first-class source (package coord's coordinators, a user's own) plug in
// through [FieldsSource]:
//
//	Coordinator: promexport.FieldsSource(func() any { return c.Stats() }),
//
// # Concurrency
//
// Collect may run concurrently with itself and with the components it
// reads; every source must be safe for concurrent use (the Stats methods
// of semevent's packages are).
//
// # Errors
//
// [New] returns a *[semevent.OptionsError] for a bad namespace or a source
// name that is not a valid metric name.
//
// # Testing
//
// Feed a Collector fixed Stats functions and read it with the client's
// testutil package, as this package's tests do.
package promexport

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/health"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/routing"
)

// Metric is one sample that a [Source] reports. Name is relative to the
// source's prefix ("raft_commits_total" becomes
// "semevent_coord_raft_commits_total"); counters end in _total, times are
// in seconds, sizes in bytes.
type Metric struct {
	Name    string
	Help    string
	Counter bool // a counter; otherwise a gauge
	Labels  map[string]string
	Value   float64
}

// Source reports metrics of a component that promexport does not know,
// such as package coord's coordinator or package automation's engine.
type Source func() []Metric

// JournalStats is what a journal exposes: its offsets and its counters.
type JournalStats struct {
	FirstOffset, NextOffset uint64
	journal.Stats
}

// JournalOf reads j's offsets and counters.
func JournalOf(j *journal.Journal) func() JournalStats {
	return func() JournalStats {
		return JournalStats{FirstOffset: j.FirstOffset(), NextOffset: j.NextOffset(), Stats: j.Stats()}
	}
}

// RouterStats is what a routing table exposes today.
type RouterStats struct {
	Version      uint64 // rule-set version, bumped by every reload
	Destinations int
}

// RouterOf reads t's version and destinations.
func RouterOf(t *routing.Table) func() RouterStats {
	return func() RouterStats { return RouterStats{Version: t.Version(), Destinations: len(t.Destinations())} }
}

// Options say what a [Collector] reads; nil fields are skipped.
type Options struct {
	Namespace string // metric name prefix (default "semevent")

	Bus       func() propagation.Stats
	Analyzers map[string]func() analytics.Stats // by the "analyzer" label value
	Journal   func() JournalStats
	Router    func() RouterStats
	Health    *health.Checker // component levels, checked at scrape time

	// The capture and automation components, each by its Stats method:
	// Bridge: bridge.Stats, and so on. They report under
	// <namespace>_fuse_bridge_, _fuse_watcher_, _cep_, _rules_ and
	// _workflow_.
	Bridge   func() fusebridge.Stats        // a FUSE bridge
	Watcher  func() fusebridge.WatcherStats // a kernel watcher
	CEP      func() cep.Stats               // a complex-event-processing engine
	Rules    func() rules.Stats             // a rule engine
	Executor func() automation.ExecutorStats

	// Coordinator reports under <namespace>_coord_; see [FieldsSource].
	Coordinator Source
	// Sources report under <namespace>_<key>_.
	Sources map[string]Source
}

var nameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate reports every problem with o in one *semevent.OptionsError.
func (o *Options) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "promexport.Options"}
	if o.Namespace != "" && !nameRE.MatchString(o.Namespace) {
		e.Addf("Namespace", "%q is not a metric name", o.Namespace)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Sources)) {
		if !nameRE.MatchString(k) {
			e.Addf(fmt.Sprintf("Sources[%q]", k), "not a metric name")
		}
	}
	return e.Err()
}

// Collector is a prometheus.Collector over semevent's statistics. It is
// unchecked (it describes no fixed set of metrics) because sources decide
// their metrics at scrape time.
type Collector struct {
	o  Options
	ns string
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector, or the problems of opts.
func New(opts *Options) (*Collector, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	c := &Collector{ns: "semevent"}
	if opts != nil {
		c.o = *opts
		if opts.Namespace != "" {
			c.ns = opts.Namespace
		}
	}
	return c, nil
}

// Describe sends nothing: the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// emitter turns samples into const metrics.
type emitter struct {
	ch     chan<- prometheus.Metric
	prefix string
}

func (e emitter) emit(name, help string, typ prometheus.ValueType, v float64, labels ...string) {
	var keys, vals []string
	for i := 0; i+1 < len(labels); i += 2 {
		keys = append(keys, labels[i])
		vals = append(vals, labels[i+1])
	}
	desc := prometheus.NewDesc(e.prefix+name, help, keys, nil)
	m, err := prometheus.NewConstMetric(desc, typ, v, vals...)
	if err != nil {
		m = prometheus.NewInvalidMetric(desc, err)
	}
	e.ch <- m
}

func (e emitter) counter(name, help string, v uint64, labels ...string) {
	e.emit(name, help, prometheus.CounterValue, float64(v), labels...)
}

func (e emitter) gauge(name, help string, v float64, labels ...string) {
	e.emit(name, help, prometheus.GaugeValue, v, labels...)
}

// Collect reads every configured source.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.o.Bus != nil {
		collectBus(emitter{ch, c.ns + "_bus_"}, c.o.Bus())
	}
	names := make([]string, 0, len(c.o.Analyzers))
	for n := range c.o.Analyzers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		collectAnalytics(emitter{ch, c.ns + "_analytics_"}, n, c.o.Analyzers[n]())
	}
	if c.o.Journal != nil {
		s := c.o.Journal()
		e := emitter{ch, c.ns + "_journal_"}
		e.gauge("first_offset", "Offset of the oldest record the journal retains.", float64(s.FirstOffset))
		e.gauge("next_offset", "Offset the next appended record will get.", float64(s.NextOffset))
		e.gauge("retained_records", "Records the journal retains.", float64(s.NextOffset-min(s.FirstOffset, s.NextOffset)))
		e.counter("records_written_total", "Records written since the journal was opened.", uint64(s.Records))
		e.counter("flushes_total", "Group writes; records_written_total / flushes_total is the mean group size.", uint64(s.Flushes))
		e.counter("fsyncs_total", "Data fsyncs.", uint64(s.Fsyncs))
		e.counter("written_bytes_total", "Record bytes written.", uint64(s.Bytes))
		e.counter("segments_created_total", "Segments created.", uint64(s.Segments))
	}
	if c.o.Router != nil {
		s := c.o.Router()
		e := emitter{ch, c.ns + "_router_"}
		e.gauge("rules_version", "Version of the rule set in use; changes on every reload.", float64(s.Version))
		e.gauge("destinations", "Destinations the rules name.", float64(s.Destinations))
	}
	if c.o.Bridge != nil {
		collectBridge(emitter{ch, c.ns + "_fuse_bridge_"}, c.o.Bridge())
	}
	if c.o.Watcher != nil {
		collectWatcher(emitter{ch, c.ns + "_fuse_watcher_"}, c.o.Watcher())
	}
	if c.o.CEP != nil {
		collectCEP(emitter{ch, c.ns + "_cep_"}, c.o.CEP())
	}
	if c.o.Rules != nil {
		collectRules(emitter{ch, c.ns + "_rules_"}, c.o.Rules())
	}
	if c.o.Executor != nil {
		collectExecutor(emitter{ch, c.ns + "_workflow_"}, c.o.Executor())
	}
	if c.o.Health != nil {
		rep := c.o.Health.Check(contextBackground())
		e := emitter{ch, c.ns + "_health_"}
		for _, cr := range rep.Components {
			e.gauge("status", "Component health: 0 ok, 1 degraded, 2 critical.", float64(cr.Level), "component", cr.Name)
		}
		e.gauge("overall_status", "Worst component health: 0 ok, 1 degraded, 2 critical.", float64(rep.Level))
	}
	sources := map[string]Source{"coord": c.o.Coordinator}
	for k, s := range c.o.Sources {
		sources[k] = s
	}
	keys := make([]string, 0, len(sources))
	for k := range sources {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if sources[k] == nil {
			continue
		}
		e := emitter{ch, c.ns + "_" + k + "_"}
		for _, m := range sources[k]() {
			var labels []string
			lk := make([]string, 0, len(m.Labels))
			for l := range m.Labels {
				lk = append(lk, l)
			}
			slices.Sort(lk)
			for _, l := range lk {
				labels = append(labels, l, m.Labels[l])
			}
			typ := prometheus.GaugeValue
			if m.Counter {
				typ = prometheus.CounterValue
			}
			e.emit(m.Name, m.Help, typ, m.Value, labels...)
		}
	}
}

var dropReasons = []string{"full", "evicted", "unsubscribed", "closed"}

func drops(d propagation.DropStats) []uint64 {
	return []uint64{d.Full, d.Evicted, d.Unsubscribed, d.Closed}
}

func collectBus(e emitter, s propagation.Stats) {
	e.counter("published_total", "Events accepted by Publish.", s.Published)
	e.counter("matched_total", "(event, subscription) pairs that passed the filter.", s.Matched)
	e.counter("delivered_total", "Handler calls that returned.", s.Delivered)
	e.counter("deduplicated_total", "Sightings folded into another event by deduplication.", s.Deduplicated)
	e.counter("denied_total", "(event, subscription) pairs the access policy refused.", s.Denied)
	for i, v := range drops(s.Dropped) {
		e.counter("dropped_total", "Events a subscription did not get, by reason.", v, "reason", dropReasons[i])
	}
	e.counter("handler_errors_total", "Handler calls that returned an error.", s.Errors)
	e.counter("handler_panics_total", "Handler calls that panicked (recovered).", s.Panics)
	for b, bs := range s.Boundaries {
		name := semevent.Boundary(b).String()
		e.counter("boundary_published_total", "Events accepted per boundary.", bs.Published, "boundary", name)
		e.gauge("queue_depth", "Events waiting in a boundary's inbound queue.", float64(bs.Depth), "boundary", name)
	}
	latency(e, "delivery_latency", "Publish to handler start", s.Latency)
	for _, ss := range s.Subscriptions {
		e.counter("subscription_matched_total", "Events that matched a subscription.", ss.Matched, "subscription", ss.Name)
		e.counter("subscription_delivered_total", "Events delivered to a subscription.", ss.Delivered, "subscription", ss.Name)
		for i, v := range drops(ss.Dropped) {
			e.counter("subscription_dropped_total", "Events a subscription did not get, by reason.", v, "subscription", ss.Name, "reason", dropReasons[i])
		}
		e.counter("subscription_errors_total", "Handler errors of a subscription.", ss.Errors, "subscription", ss.Name)
		e.counter("subscription_panics_total", "Handler panics of a subscription.", ss.Panics, "subscription", ss.Name)
		e.gauge("subscription_depth", "Events buffered for a subscription.", float64(ss.Depth), "subscription", ss.Name)
	}
}

func latency(e emitter, name, what string, l propagation.LatencyStats) {
	for _, q := range []struct {
		q string
		d time.Duration
	}{{"0.5", l.P50}, {"0.9", l.P90}, {"0.99", l.P99}, {"1", l.Max}} {
		e.gauge(name+"_seconds", what+" latency quantiles of the sampled events, in seconds.", q.d.Seconds(), "quantile", q.q)
	}
	e.counter(name+"_samples_total", what+" latency samples taken.", l.Count)
}

func collectAnalytics(e emitter, name string, s analytics.Stats) {
	e.counter("events_total", "Events an analyzer aggregated, found late or refused.", s.Events, "analyzer", name)
	e.counter("skipped_events_total", "analytics.* events an analyzer skipped.", s.Skipped, "analyzer", name)
	e.counter("late_events_total", "Events too late for any window (side output).", s.Late, "analyzer", name)
	e.counter("future_events_total", "Events refused for being more than MaxFuture ahead of the processing clock.", s.Future, "analyzer", name)
	e.counter("key_overflow_events_total", "Events refused because their key would exceed MaxKeys.", s.KeyOverflow, "analyzer", name)
	e.counter("results_total", "Window results emitted.", s.Results, "analyzer", name)
	e.counter("partial_results_total", "Window results Flush or Close emitted before the watermark closed them.", s.Partial, "analyzer", name)
	e.counter("updates_total", "Window results re-emitted because of late events.", s.Updates, "analyzer", name)
	e.counter("anomalies_total", "Anomalies detected.", s.Anomalies, "analyzer", name)
	e.counter("publish_errors_total", "Result events the publisher refused.", s.PublishErrors, "analyzer", name)
	e.gauge("open_windows", "Panes or sessions an analyzer holds.", float64(s.OpenWindows), "analyzer", name)
	e.gauge("keys", "Per-key aggregates an analyzer holds (at most MaxKeys).", float64(s.Keys), "analyzer", name)
	wm := math.NaN()
	if s.Watermark != math.MinInt64 {
		wm = float64(s.Watermark) / 1e9
	}
	e.gauge("watermark_seconds", "An analyzer's event-time watermark, Unix seconds.", wm, "analyzer", name)
}

// Names lists the metric names a Collector with every built-in source
// exports under the default namespace (sources add their own).
func Names() []string {
	out := []string{}
	for _, n := range []string{"published_total", "matched_total", "delivered_total", "deduplicated_total", "denied_total",
		"dropped_total", "handler_errors_total", "handler_panics_total", "boundary_published_total",
		"queue_depth", "delivery_latency_seconds", "delivery_latency_samples_total",
		"subscription_matched_total", "subscription_delivered_total", "subscription_dropped_total",
		"subscription_errors_total", "subscription_panics_total", "subscription_depth"} {
		out = append(out, "semevent_bus_"+n)
	}
	for _, n := range []string{"events_total", "skipped_events_total", "late_events_total", "future_events_total",
		"key_overflow_events_total", "results_total", "partial_results_total",
		"updates_total", "anomalies_total", "publish_errors_total", "open_windows", "keys", "watermark_seconds"} {
		out = append(out, "semevent_analytics_"+n)
	}
	out = append(out, "semevent_journal_first_offset", "semevent_journal_next_offset", "semevent_journal_retained_records",
		"semevent_journal_records_written_total", "semevent_journal_flushes_total", "semevent_journal_fsyncs_total",
		"semevent_journal_written_bytes_total", "semevent_journal_segments_created_total",
		"semevent_router_rules_version", "semevent_router_destinations",
		"semevent_health_status", "semevent_health_overall_status")
	return append(out, componentNames()...)
}
