package cep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
)

// The differential test: the CEP engine against a brute-force matcher
// that looks at the whole stream at once, over random streams, patterns,
// keys and timings. Both must find exactly the same matches.

var diffKinds = []semevent.Kind{semevent.KindFileCreate, semevent.KindFileWrite, semevent.KindFileDelete, semevent.KindFileRename}

// spec is a random pattern in a form both matchers understand.
type spec struct {
	typ      string // "seq", "strict", "count", "absence", "repeat"
	name     string
	byPID    bool
	noTenant bool          // the KeyFunc leaves Key.Tenant empty: the engine must scope by tenant anyway
	scope    semevent.Kind // 0: every event; else scope excludes this kind
	stages   []diffStage
	within   int64
	min, max int
}

// diffStage is a kind plus, sometimes, an expr condition on Size.
type diffStage struct {
	kind    semevent.Kind
	minSize int64 // > 0: condition "Size >= minSize" in expr
}

func (s diffStage) match(ev *semevent.Event) bool {
	return ev.Kind == s.kind && (s.minSize == 0 || ev.Size >= s.minSize)
}

func (s diffStage) stage() Stage {
	st := Stage{Kind: s.kind}
	if s.minSize > 0 {
		st.When = "Size >= " + strconv.FormatInt(s.minSize, 10)
	}
	return st
}

func (sp *spec) inScope(ev *semevent.Event) bool { return sp.scope == 0 || ev.Kind != sp.scope }

// key is the reference key: always scoped by the event's tenant, whatever
// the pattern's KeyFunc returns (issue 18 item 4).
func (sp *spec) key(ev *semevent.Event) string {
	if sp.byPID {
		return semevent.Key{Tenant: ev.Tenant, N: uint64(ev.PID)}.String()
	}
	return semevent.Key{Tenant: ev.Tenant, S: ev.Path}.String()
}

func (sp *spec) pattern() Pattern {
	var key semevent.KeyFunc = semevent.PathKey
	if sp.byPID {
		key = semevent.PIDKey
	}
	switch {
	case sp.noTenant && sp.byPID:
		key = func(ev *semevent.Event) semevent.Key { return semevent.Key{N: uint64(ev.PID)} }
	case sp.noTenant:
		key = func(ev *semevent.Event) semevent.Key { return semevent.Key{S: ev.Path} }
	}
	var scope Stage
	if sp.scope != 0 {
		k := sp.scope
		scope.Filter = funcFilter(func(ev *semevent.Event) bool { return ev.Kind != k })
	}
	w := time.Duration(sp.within)
	switch sp.typ {
	case "seq", "strict":
		st := make([]Stage, len(sp.stages))
		for i, s := range sp.stages {
			st[i] = s.stage()
		}
		return &Sequence{Name: sp.name, Key: key, Scope: scope, Stages: st, Within: w, Strict: sp.typ == "strict"}
	case "count":
		return &Count{Name: sp.name, Key: key, Scope: scope, Stage: sp.stages[0].stage(), Min: sp.min, Within: w}
	case "absence":
		return &Absence{Name: sp.name, Key: key, Scope: scope, First: sp.stages[0].stage(), Then: sp.stages[1].stage(), Within: w}
	default:
		return &Repeat{Name: sp.name, Key: key, Scope: scope, Stage: sp.stages[0].stage(), Min: sp.min, Max: sp.max, Within: w}
	}
}

type funcFilter func(ev *semevent.Event) bool

func (f funcFilter) Match(ev *semevent.Event) bool { return f(ev) }

func randStage(r *rand.Rand) diffStage {
	s := diffStage{kind: diffKinds[r.IntN(len(diffKinds))]}
	if r.IntN(4) == 0 {
		s.minSize = int64(r.IntN(100))
	}
	return s
}

func randSpec(r *rand.Rand, i int) *spec {
	types := []string{"seq", "strict", "count", "absence", "repeat"}
	sp := &spec{typ: types[r.IntN(len(types))], name: fmt.Sprintf("p%d", i), byPID: r.IntN(2) == 0, noTenant: r.IntN(2) == 0}
	sp.within = int64(1 + r.IntN(60))
	if r.IntN(3) == 0 {
		sp.scope = diffKinds[r.IntN(len(diffKinds))]
	}
	switch sp.typ {
	case "seq", "strict":
		for range 1 + r.IntN(3) {
			sp.stages = append(sp.stages, randStage(r))
		}
	case "count":
		sp.stages = []diffStage{randStage(r)}
		sp.min = 1 + r.IntN(4)
	case "absence":
		sp.stages = []diffStage{randStage(r), randStage(r)}
	case "repeat":
		sp.stages = []diffStage{randStage(r)}
		sp.min = 1 + r.IntN(3)
		if r.IntN(2) == 0 {
			sp.max = sp.min + r.IntN(3)
		}
	}
	if sp.scope != 0 {
		// keep the stages visible: a stage of the excluded kind never matches
		for i := range sp.stages {
			if sp.stages[i].kind == sp.scope && r.IntN(2) == 0 {
				sp.stages[i].kind = diffKinds[(slices.Index(diffKinds, sp.scope)+1)%len(diffKinds)]
			}
		}
	}
	return sp
}

// diffTenants are the tenants of random streams: the same paths and PIDs
// occur under each, so a key that mixed tenants would show.
var diffTenants = []string{"", "acme", "globex"}

func randStream(r *rand.Rand, n int) []*semevent.Event {
	nkeys := 1 + r.IntN(6)
	ntenants := 1 + r.IntN(len(diffTenants))
	evs := make([]*semevent.Event, n)
	t := int64(1000)
	for i := range evs {
		t += int64(r.IntN(8)) // gaps of 0 are common: equal times
		k := r.IntN(nkeys)
		evs[i] = &semevent.Event{
			ID:     semevent.MakeID(uint64(i+1), 0, 0),
			Kind:   diffKinds[r.IntN(len(diffKinds))],
			Path:   "/k/" + strconv.Itoa(k),
			PID:    uint32(r.IntN(nkeys) + 1),
			Size:   int64(r.IntN(100)),
			Time:   t,
			Tenant: diffTenants[r.IntN(ntenants)],
		}
	}
	return evs
}

func idList(ids []semevent.ID) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(id.Nanos(), 10))
	}
	return b.String()
}

// brute returns the matches of sp over evs, given the final watermark,
// as "name key ids" strings.
func brute(sp *spec, evs []*semevent.Event, end int64) []string {
	streams := map[string][]*semevent.Event{}
	var keys []string
	for _, ev := range evs {
		if !sp.inScope(ev) {
			continue
		}
		k := sp.key(ev)
		if _, ok := streams[k]; !ok {
			keys = append(keys, k)
		}
		streams[k] = append(streams[k], ev)
	}
	var out []string
	add := func(k string, ms []*semevent.Event) {
		ids := make([]semevent.ID, len(ms))
		for i, m := range ms {
			ids[i] = m.ID
		}
		out = append(out, sp.name+" "+k+" "+idList(ids))
	}
	for _, k := range keys {
		s := streams[k]
		switch sp.typ {
		case "seq":
			for i, e := range s {
				if !sp.stages[0].match(e) {
					continue
				}
				ms := []*semevent.Event{e}
				j := i
				for st := 1; st < len(sp.stages) && j >= 0; st++ {
					next := -1
					for x := j + 1; x < len(s); x++ {
						if sp.stages[st].match(s[x]) {
							next = x
							break
						}
					}
					j = next
					if j >= 0 {
						ms = append(ms, s[j])
					}
				}
				if j >= 0 && ms[len(ms)-1].Time-e.Time <= sp.within {
					add(k, ms)
				}
			}
		case "strict":
			n := len(sp.stages)
			for i := 0; i+n <= len(s); i++ {
				ok := true
				for st := range n {
					ok = ok && sp.stages[st].match(s[i+st])
				}
				if ok && s[i+n-1].Time-s[i].Time <= sp.within {
					add(k, s[i:i+n])
				}
			}
		case "count":
			var m []*semevent.Event
			for _, e := range s {
				if sp.stages[0].match(e) {
					m = append(m, e)
				}
			}
			last := -1
			for j := range m {
				var win []*semevent.Event
				for i := last + 1; i <= j; i++ {
					if m[j].Time-m[i].Time <= sp.within {
						win = append(win, m[i])
					}
				}
				if len(win) >= sp.min {
					add(k, win)
					last = j
				}
			}
		case "absence":
			for i, a := range s {
				if !sp.stages[0].match(a) {
					continue
				}
				cancelled := false
				for _, b := range s[i+1:] {
					if sp.stages[1].match(b) && b.Time <= a.Time+sp.within {
						cancelled = true
						break
					}
				}
				if !cancelled && end > a.Time+sp.within {
					add(k, []*semevent.Event{a})
				}
			}
		case "repeat":
			var run []*semevent.Event
			closeRun := func() {
				if len(run) >= sp.min {
					add(k, run)
				}
				run = nil
			}
			for _, e := range s {
				if run != nil && e.Time-run[0].Time > sp.within {
					closeRun()
				}
				if sp.stages[0].match(e) {
					run = append(run, e)
					if sp.max > 0 && len(run) == sp.max {
						closeRun()
					}
				} else if run != nil {
					closeRun()
				}
			}
			if run != nil && end > run[0].Time+sp.within {
				closeRun()
			}
		}
	}
	return out
}

// recorder collects published events.
type recorder struct {
	mu  sync.Mutex
	evs []*semevent.Event
}

func (r *recorder) Publish(_ context.Context, ev *semevent.Event) error {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
	return nil
}

func engineMatches(t *testing.T, evs []*semevent.Event, got []*semevent.Event) []string {
	t.Helper()
	var out []string
	for _, m := range got {
		ids, err := CausingIDs(m)
		if err != nil {
			t.Fatal(err)
		}
		if m.Cause != ids[len(ids)-1] {
			t.Fatalf("match Cause %v, want last causing id %v", m.Cause, ids[len(ids)-1])
		}
		name, _ := m.Attr(AttrPattern)
		key, _ := m.Attr(AttrKey)
		out = append(out, name+" "+key+" "+idList(ids))
	}
	return out
}

func TestCEPDifferential(t *testing.T) {
	streams, events := 300, 300
	if os.Getenv("SEMEVENT_SOAK") != "" {
		streams, events = 5000, 1000
	}
	var totalMatches, totalEvents int
	byType := map[string]int{}
	for s := range streams {
		r := rand.New(rand.NewPCG(uint64(s), 7))
		var specs []*spec
		var pats []Pattern
		for i := range 1 + r.IntN(6) {
			sp := randSpec(r, i)
			specs = append(specs, sp)
			pats = append(pats, sp.pattern())
		}
		rec := &recorder{}
		e, err := New(pats, &Options{Publisher: rec, MaxPartialsPerKey: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		evs := randStream(r, 1+r.IntN(events))
		ctx := context.Background()
		for _, ev := range evs {
			if err := e.Handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		end := evs[len(evs)-1].Time + int64(r.IntN(80))
		if err := e.Advance(ctx, end); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, sp := range specs {
			w := brute(sp, evs, end)
			byType[sp.typ] += len(w)
			want = append(want, w...)
		}
		if err := checkInvariants(e); err != nil {
			t.Fatalf("stream %d: %v", s, err)
		}
		got := engineMatches(t, evs, rec.evs)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			for _, sp := range specs {
				t.Logf("pattern %+v", *sp)
			}
			for _, ev := range evs {
				t.Logf("ev %d %v %s/%s pid %d size %d t %d", ev.ID.Nanos(), ev.Kind, ev.Tenant, ev.Path, ev.PID, ev.Size, ev.Time)
			}
			t.Fatalf("stream %d: engine found %d matches, brute force %d\nengine: %q\nbrute:  %q", s, len(got), len(want), got, want)
		}
		if st := e.Stats(); st.Matches != uint64(len(want)) || st.Evicted != 0 {
			t.Fatalf("stream %d: stats %+v, want %d matches, 0 evicted", s, st, len(want))
		}
		totalMatches += len(want)
		totalEvents += len(evs)
	}
	t.Logf("%d streams, %d events, %d matches identical (by type %v)", streams, totalEvents, totalMatches, byType)
}
