package cep_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/cep"
)

// The workload of issue 15 item 3: 1000 patterns — 250 each of followed-by
// sequences, counts, absences and repeats — over 100 topics, so that each
// event concerns about 15 patterns, on 10k keys (paths), at 10 µs of event
// time per event. naiveMatcher is a hand-written map-based matcher for the
// same patterns, the baseline of the same run; TestCEPScaleBaselineAgrees
// checks that both find the same matches.

const (
	scaleTopics   = 100
	scalePatterns = 1000
	scaleKeys     = 10_000
	scaleStep     = 10_000 // ns of event time per event
)

// scalePattern describes pattern i in a form both matchers use.
type scalePattern struct {
	typ      int    // 0 sequence, 1 count, 2 absence, 3 repeat
	a, b     int    // topics: the first (or only) stage, the second
	topicA   string // scaleTopic(a), so the naive matcher does not build it per event
	within   int64
	min, max int
}

func scaleTopic(i int) string { return "app.t" + strconv.Itoa(i) }

// scaleOnlyType, when >= 0, makes every pattern of the workload of that
// type (BenchmarkCEPScaleTypes).
var scaleOnlyType = -1

func scaleSpec(i int) scalePattern {
	typ := i % 4
	if scaleOnlyType >= 0 {
		typ = scaleOnlyType
	}
	p := scalePattern{typ: typ, a: i % scaleTopics, b: (i*7 + 3) % scaleTopics}
	if p.b == p.a {
		p.b = (p.b + 1) % scaleTopics
	}
	p.topicA = scaleTopic(p.a)
	switch p.typ {
	case 0:
		p.within = int64(time.Second)
	case 1:
		p.within, p.min = int64(time.Second), 5
	case 2:
		p.within = int64(100 * time.Millisecond)
	case 3:
		p.within, p.min, p.max = int64(time.Second), 3, 5
	}
	return p
}

func scaleCEPPatterns() []cep.Pattern {
	pats := make([]cep.Pattern, scalePatterns)
	for i := range pats {
		sp := scaleSpec(i)
		name := "p" + strconv.Itoa(i)
		a, b := cep.Stage{Topic: scaleTopic(sp.a)}, cep.Stage{Topic: scaleTopic(sp.b)}
		w := time.Duration(sp.within)
		switch sp.typ {
		case 0:
			pats[i] = &cep.Sequence{Name: name, Stages: []cep.Stage{a, b}, Within: w}
		case 1:
			pats[i] = &cep.Count{Name: name, Stage: a, Min: sp.min, Within: w}
		case 2:
			pats[i] = &cep.Absence{Name: name, First: a, Then: b, Within: w}
		case 3:
			pats[i] = &cep.Repeat{Name: name, Scope: a, Stage: a, Min: sp.min, Max: sp.max, Within: w}
		}
	}
	return pats
}

func scaleStream(n int) []*semevent.Event {
	r := rand.New(rand.NewPCG(15, 3))
	evs := make([]*semevent.Event, n)
	for i := range evs {
		evs[i] = &semevent.Event{
			ID:    semevent.MakeID(uint64(i+1), 0, 0),
			Kind:  semevent.KindCustom,
			Topic: scaleTopic(r.IntN(scaleTopics)),
			Path:  "/k/" + strconv.Itoa(r.IntN(scaleKeys)),
		}
	}
	return evs
}

// naiveMatcher: per pattern a map from key to state, the patterns of each
// topic in a map, absence deadlines in one FIFO (all absences share their
// Within, so deadlines come in order). It reports what the engine reports:
// each match as a semevent.KindPatternMatched event (pattern, key, causing
// IDs, time, origin) built in one allocation as the engine's are, handed
// to a publisher — so both sides of the benchmark produce the same output.
type naiveMatcher struct {
	specs   []scalePattern
	names   []string
	byTopic map[string][]int
	seq     []map[string][]naiveRef // pattern → key → partials (start, first ID)
	count   []map[string][]naiveRef // pattern → key → events buffered
	absence []map[string]uint64     // pattern → key → the last pending sequence number a Then cancelled
	pseq    uint64
	pend    []naivePending
	repeat  []map[string]*naiveRun
	pub     semevent.Publisher
	matches int
	ids     []semevent.ID
}

type naiveRef struct {
	t  int64
	id semevent.ID
}

type naivePending struct {
	at   int64
	p    int
	key  string
	gen  uint64
	id   semevent.ID
	tent string
	pid  uint32
}

type naiveRun struct {
	start, last int64
	ids         []semevent.ID
	tenant      string
	pid         uint32
}

func newNaive(pub semevent.Publisher) *naiveMatcher {
	m := &naiveMatcher{byTopic: map[string][]int{}, pub: pub}
	for i := range scalePatterns {
		sp := scaleSpec(i)
		m.specs = append(m.specs, sp)
		m.names = append(m.names, "p"+strconv.Itoa(i))
		m.byTopic[scaleTopic(sp.a)] = append(m.byTopic[scaleTopic(sp.a)], i)
		if sp.typ == 0 || sp.typ == 2 {
			m.byTopic[scaleTopic(sp.b)] = append(m.byTopic[scaleTopic(sp.b)], i)
		}
		m.seq = append(m.seq, map[string][]naiveRef{})
		m.count = append(m.count, map[string][]naiveRef{})
		m.absence = append(m.absence, map[string]uint64{})
		m.repeat = append(m.repeat, map[string]*naiveRun{})
	}
	return m
}

// naiveMatch is a match event with room for its attributes and three
// causing IDs, allocated at once (the engine's layout).
type naiveMatch struct {
	ev    semevent.Event
	attrs [2]semevent.Attr
	data  [48]byte
}

// emit reports a match of pattern p on key at time at.
func (m *naiveMatcher) emit(p int, key string, ids []semevent.ID, at int64, tenant string, pid uint32) {
	m.matches++
	nm := &naiveMatch{}
	data := nm.data[:0]
	if len(ids) > 3 {
		data = make([]byte, 0, 16*len(ids))
	}
	for _, id := range ids {
		b := id.Bytes()
		data = append(data, b[:]...)
	}
	nm.attrs = [2]semevent.Attr{{Key: cep.AttrPattern, Value: m.names[p]}, {Key: cep.AttrKey, Value: key}}
	nm.ev = semevent.Event{Kind: semevent.KindPatternMatched, Boundary: semevent.Userspace, Time: at, Tenant: tenant,
		Path: key, PID: pid, Cause: ids[len(ids)-1], Attrs: nm.attrs[:], Data: data}
	_ = m.pub.Publish(context.Background(), &nm.ev)
}

// advance fires absence deadlines and repeat timeouts before time t.
func (m *naiveMatcher) advance(t int64) {
	for len(m.pend) > 0 && m.pend[0].at < t {
		pd := m.pend[0]
		m.pend = m.pend[1:]
		if pd.gen > m.absence[pd.p][pd.key] {
			m.emit(pd.p, pd.key, []semevent.ID{pd.id}, pd.at, pd.tent, pd.pid)
		}
	}
}

func (m *naiveMatcher) closeRun(i int, key string, run *naiveRun) {
	if len(run.ids) >= m.specs[i].min {
		m.emit(i, key, run.ids, run.last, run.tenant, run.pid)
	}
}

func (m *naiveMatcher) handle(ev *semevent.Event, t int64) {
	m.advance(t)
	topic := ev.Topic
	key := ev.Path
	for _, i := range m.byTopic[topic] {
		sp := &m.specs[i]
		isA := topic == sp.topicA
		switch sp.typ {
		case 0:
			parts := m.seq[i][key]
			if !isA {
				for _, s := range parts {
					if t-s.t <= sp.within {
						m.emit(i, key, append(m.ids[:0], s.id, ev.ID), t, ev.Tenant, ev.PID)
					}
				}
				if len(parts) > 0 {
					m.seq[i][key] = parts[:0]
				}
				continue
			}
			m.seq[i][key] = append(parts, naiveRef{t, ev.ID})
		case 1:
			buf := m.count[i][key]
			k := 0
			for k < len(buf) && t-buf[k].t > sp.within {
				k++
			}
			buf = append(buf[k:], naiveRef{t, ev.ID})
			if len(buf) >= sp.min {
				ids := m.ids[:0]
				for _, r := range buf {
					ids = append(ids, r.id)
				}
				m.ids = ids
				m.emit(i, key, ids, t, ev.Tenant, ev.PID)
				delete(m.count[i], key)
				continue
			}
			m.count[i][key] = buf
		case 2:
			if !isA {
				m.absence[i][key] = m.pseq // cancels every pending first before it
				continue
			}
			m.pseq++
			m.pend = append(m.pend, naivePending{at: t + sp.within, p: i, key: key, gen: m.pseq, id: ev.ID, tent: ev.Tenant, pid: ev.PID})
		case 3:
			run := m.repeat[i][key]
			if run != nil && t-run.start > sp.within {
				m.closeRun(i, key, run)
				run.ids = run.ids[:0]
				run.start = t
			}
			if run == nil {
				run = &naiveRun{start: t}
				m.repeat[i][key] = run
			}
			run.ids = append(run.ids, ev.ID)
			run.last, run.tenant, run.pid = t, ev.Tenant, ev.PID
			if len(run.ids) == sp.max {
				m.closeRun(i, key, run)
				delete(m.repeat[i], key)
			}
		}
	}
}

// finish ends the stream at t: deadlines before t fire, and runs whose
// window ended before t close.
func (m *naiveMatcher) finish(t int64) {
	m.advance(t)
	for i, runs := range m.repeat {
		for key, run := range runs {
			if run.start+m.specs[i].within < t {
				m.closeRun(i, key, run)
				delete(runs, key)
			}
		}
	}
}

type countingPublisher struct{ n int }

func (c *countingPublisher) Publish(context.Context, *semevent.Event) error { c.n++; return nil }

// recordingPublisher keeps a summary of every match event it is given.
type recordingPublisher struct{ got []string }

func (r *recordingPublisher) Publish(_ context.Context, ev *semevent.Event) error {
	r.got = append(r.got, fmt.Sprintf("%v %q %q %d %d %x %v %v", ev.Kind, ev.Tenant, ev.Path, ev.PID, ev.Time, ev.Data, ev.Cause, ev.Attrs))
	return nil
}

// TestCEPScaleBaselineAgrees: the engine and the naive matcher publish the
// same match events (pattern, key, causing IDs, time, origin) on the
// benchmark's workload, so the benchmark compares equal work.
func TestCEPScaleBaselineAgrees(t *testing.T) {
	evs := scaleStream(20_000)
	pub, npub := &recordingPublisher{}, &recordingPublisher{}
	e, err := cep.New(scaleCEPPatterns(), &cep.Options{Publisher: pub, MaxFuture: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := newNaive(npub)
	ctx := context.Background()
	var tm int64
	for _, ev := range evs {
		tm += scaleStep
		ev.Time = tm
		if err := e.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
		m.handle(ev, tm)
	}
	end := tm + int64(2*time.Second)
	if err := e.Advance(ctx, end); err != nil {
		t.Fatal(err)
	}
	m.finish(end)
	if len(pub.got) == 0 || len(pub.got) != len(npub.got) {
		t.Fatalf("engine published %d matches, naive %d", len(pub.got), len(npub.got))
	}
	slices.Sort(pub.got)
	slices.Sort(npub.got)
	for i := range pub.got {
		if pub.got[i] != npub.got[i] {
			t.Fatalf("match %d (sorted): engine %s, naive %s", i, pub.got[i], npub.got[i])
		}
	}
	t.Logf("%d events, %d matches (%.2f per event)", len(evs), len(pub.got), float64(len(pub.got))/float64(len(evs)))
}

// scaleWarm is how many events the benchmarks feed before measuring:
// 3 s of event time, past every pattern's Within, so the engine's state,
// timers and free lists are in their steady state.
const scaleWarm = 300_000

// BenchmarkCEPScale runs the workload through the engine and through the
// naive matcher, each after scaleWarm events, reporting allocations and
// the heap each holds. BenchmarkCEPScalePaired gives their ratio.
func BenchmarkCEPScale(b *testing.B) {
	evs := scaleStream(1 << 17)
	b.Run("engine", func(b *testing.B) {
		pub := &countingPublisher{}
		e, err := cep.New(scaleCEPPatterns(), &cep.Options{Publisher: pub, MaxFuture: -1})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		var tm int64
		for i := range scaleWarm {
			ev := evs[i&(len(evs)-1)]
			tm += scaleStep
			ev.Time = tm
			_ = e.Handle(ctx, ev)
		}
		pub.n = 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ev := evs[i&(len(evs)-1)]
			tm += scaleStep
			ev.Time = tm
			_ = e.Handle(ctx, ev)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(pub.n)/float64(b.N), "matches/event")
		reportHeap(b)
		runtime.KeepAlive(e)
	})
	b.Run("naive", func(b *testing.B) {
		m := newNaive(&countingPublisher{})
		var tm int64
		for i := range scaleWarm {
			tm += scaleStep
			m.handle(evs[i&(len(evs)-1)], tm)
		}
		m.matches = 0
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			ev := evs[i&(len(evs)-1)]
			tm += scaleStep
			m.handle(ev, tm)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		b.ReportMetric(float64(m.matches)/float64(b.N), "matches/event")
		reportHeap(b)
		runtime.KeepAlive(m)
	})
}

// BenchmarkCEPScalePaired feeds the same events to the engine and to the
// naive matcher in alternating blocks of 1024, after scaleWarm events
// each, so that both see the same machine load; b.N counts events. It
// reports each one's events/s and speedup = naive time / engine time (> 1:
// the engine is faster), on the wall clock and on the thread's CPU clock
// (events/cpu-s, speedup-cpu). The engine's background GC work is not on
// the thread's clock: the wall-clock figures include it.
// BenchmarkCEPScaleTypes is BenchmarkCEPScalePaired with all 1000
// patterns of one type (0 sequence, 1 count, 2 absence, 3 repeat): where
// the engine gains or loses against the naive matcher.
func BenchmarkCEPScaleTypes(b *testing.B) {
	for typ := range 4 {
		b.Run(strconv.Itoa(typ), func(b *testing.B) {
			scaleOnlyType = typ
			defer func() { scaleOnlyType = -1 }()
			BenchmarkCEPScalePaired(b)
		})
	}
}

func BenchmarkCEPScalePaired(b *testing.B) {
	const block = 1024
	evs := scaleStream(1 << 17)
	pub := &countingPublisher{}
	e, err := cep.New(scaleCEPPatterns(), &cep.Options{Publisher: pub, MaxFuture: -1})
	if err != nil {
		b.Fatal(err)
	}
	m := newNaive(&countingPublisher{})
	ctx := context.Background()
	var tm int64
	for i := range scaleWarm {
		ev := evs[i&(len(evs)-1)]
		tm += scaleStep
		ev.Time = tm
		_ = e.Handle(ctx, ev)
		m.handle(ev, tm)
	}
	pub.n, m.matches = 0, 0
	// Each one's time is taken on the wall clock and on this thread's CPU
	// clock, which waiting for a core on a shared machine does not
	// inflate.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var engine, naive, engineCPU, naiveCPU time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += block {
		n := min(block, b.N-done)
		start := (scaleWarm + done) & (len(evs) - 1)
		t0, c0 := time.Now(), threadCPU()
		et := tm
		for i := range n {
			ev := evs[(start+i)&(len(evs)-1)]
			et += scaleStep
			ev.Time = et
			_ = e.Handle(ctx, ev)
		}
		t1, c1 := time.Now(), threadCPU()
		nt := tm
		for i := range n {
			nt += scaleStep
			m.handle(evs[(start+i)&(len(evs)-1)], nt)
		}
		t2, c2 := time.Now(), threadCPU()
		tm = et
		engine += t1.Sub(t0)
		naive += t2.Sub(t1)
		engineCPU += c1 - c0
		naiveCPU += c2 - c1
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/engine.Seconds(), "engine-events/s")
	b.ReportMetric(float64(b.N)/naive.Seconds(), "naive-events/s")
	b.ReportMetric(naive.Seconds()/engine.Seconds(), "speedup")
	if engineCPU > 0 && naiveCPU > 0 {
		b.ReportMetric(float64(b.N)/engineCPU.Seconds(), "engine-events/cpu-s")
		b.ReportMetric(float64(b.N)/naiveCPU.Seconds(), "naive-events/cpu-s")
		b.ReportMetric(naiveCPU.Seconds()/engineCPU.Seconds(), "speedup-cpu")
	}
	b.ReportMetric(float64(pub.n)/float64(b.N), "engine-matches/event")
	b.ReportMetric(float64(m.matches)/float64(b.N), "naive-matches/event")
	runtime.KeepAlive(e)
	runtime.KeepAlive(m)
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

func reportHeap(b *testing.B) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
}
