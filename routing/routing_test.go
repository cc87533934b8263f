package routing_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/filter/filtertest"
	"github.com/vexfs/semevent/routing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t testing.TB, rs *routing.RuleSet) *routing.Table {
	t.Helper()
	tab, err := routing.New(rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestRoute(t *testing.T) {
	tab := mustNew(t, &routing.RuleSet{Rules: []routing.Rule{
		{Name: "all-writes", Subject: "fs.file.write", To: []string{"audit"}},
		{Name: "tenant-writes", Subject: "tenant.*.fs.file.write", To: []string{"audit", "tenant-audit"}},
		{Name: "acme", Subject: "tenant.acme.>", To: []string{"acme"}},
		{Name: "logs", Path: "/data/**/*.log", To: []string{"logs"}},
		{Name: "secrets", Contains: []string{"secret", "token"}, In: []string{"data"}, To: []string{"security"}},
		{Name: "big", Subject: "fs.>", When: "Size > 4096", To: []string{"big"}},
		{Name: "custom", Filter: filter.AttrEquals("owner", "alice"), To: []string{"alice"}},
	}})
	tests := []struct {
		name string
		ev   semevent.Event
		want []string
	}{
		{"plain write", semevent.Event{Kind: semevent.KindFileWrite, Path: "/x"}, []string{"audit"}},
		{"big write", semevent.Event{Kind: semevent.KindFileWrite, Path: "/x", Size: 5000}, []string{"audit", "big"}},
		{"tenant write", semevent.Event{Topic: "tenant.acme.fs.file.write", Path: "/x"}, []string{"acme", "audit", "tenant-audit"}},
		{"other tenant read", semevent.Event{Topic: "tenant.globex.fs.file.read"}, nil},
		{"log", semevent.Event{Kind: semevent.KindFileRead, Path: "/data/a/b.log"}, []string{"logs"}},
		{"secret payload", semevent.Event{Kind: semevent.KindFileRead, Data: []byte("my token")}, []string{"security"}},
		{"secret in path only", semevent.Event{Kind: semevent.KindFileRead, Path: "/secret"}, nil},
		{"alice", semevent.Event{Kind: semevent.KindDirCreate, Attrs: []semevent.Attr{{Key: "owner", Value: "alice"}}}, []string{"alice"}},
	}
	for _, tt := range tests {
		got := tab.Route(&tt.ev, nil)
		if !slices.Equal(sorted(got), tt.want) {
			t.Errorf("%s: Route = %v, want %v", tt.name, sorted(got), tt.want)
		}
	}
}

func TestRuleSetErrors(t *testing.T) {
	rs := &routing.RuleSet{
		Groups: []routing.Group{
			{Name: "g", Members: nil, Strategy: "random"},
			{Name: "g", Members: []string{"a", "a"}, Key: "nope"},
		},
		Rules: []routing.Rule{
			{Name: "bad-subject", Subject: "foo.>.bar", To: []string{"x"}},
			{Name: "bad-path", Path: "/data/a**", To: []string{"x"}},
			{Name: "bad-when", When: "Size >", To: []string{"x"}},
			{Name: "not-bool", When: "Size + 1", To: []string{"x"}},
			{Name: "no-dest"},
			{Name: "bad-in", Contains: []string{""}, In: []string{"body"}, To: []string{"x"}},
		},
	}
	_, err := routing.New(rs, nil)
	var rse *routing.RuleSetError
	if !errors.As(err, &rse) || !errors.Is(err, routing.ErrInvalidRuleSet) {
		t.Fatalf("New error = %v, want *RuleSetError", err)
	}
	want := []string{
		`group 0 ("g"): Strategy: unknown strategy "random"`,
		`group 0 ("g"): Members: no members`,
		`group 1 ("g"): Name: duplicate group name`,
		`group 1 ("g"): Members[1]: duplicate member "a"`,
		`group 1 ("g"): Key: unknown key "nope"`,
		`rule 0 ("bad-subject"): Subject at byte 4: ">" must be the last token`,
		`rule 1 ("bad-path"): Path at byte 7: "**" must be a whole path segment`,
		`rule 2 ("bad-when"): When at byte 5:`,
		`rule 3 ("not-bool"): When at byte 0:`,
		`rule 4 ("no-dest"): To: no destination`,
		`rule 5 ("bad-in"): Contains[0]: empty pattern`,
		`rule 5 ("bad-in"): In[0]: unknown field "body"`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not contain %q:\n%s", w, msg)
		}
	}
	if len(rse.Errors) != len(want) {
		t.Errorf("%d problems reported, want %d:\n%s", len(rse.Errors), len(want), msg)
	}
	var se *routing.SubjectError
	var xe *filter.ExprError
	if !errors.As(err, &se) || !errors.As(err, &xe) || !errors.Is(err, filter.ErrNotBool) {
		t.Errorf("underlying errors not reachable with errors.As/Is")
	}
}

func TestLoadKeepsOldOnError(t *testing.T) {
	tab := mustNew(t, &routing.RuleSet{Rules: []routing.Rule{{To: []string{"old"}}}})
	err := tab.Load(&routing.RuleSet{Rules: []routing.Rule{{To: []string{"new"}}, {Subject: "a..b", To: []string{"new"}}}})
	if !errors.Is(err, routing.ErrInvalidRuleSet) {
		t.Fatalf("Load of invalid set: %v", err)
	}
	if got := tab.Route(&semevent.Event{}, nil); !slices.Equal(got, []string{"old"}) || tab.Version() != 1 {
		t.Errorf("after failed Load: Route = %v, version %d; want [old], 1", got, tab.Version())
	}
	if err := tab.Load(&routing.RuleSet{Rules: []routing.Rule{{To: []string{"new"}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tab.Route(&semevent.Event{}, nil); !slices.Equal(got, []string{"new"}) || tab.Version() != 2 {
		t.Errorf("after Load: Route = %v, version %d; want [new], 2", got, tab.Version())
	}
}

// TestReloadUnderLoad routes from several goroutines while rule sets are
// swapped: every decision must come whole from one version.
func TestReloadUnderLoad(t *testing.T) {
	ruleSet := func(v int) *routing.RuleSet {
		rs := &routing.RuleSet{}
		for i := range 50 {
			rs.Rules = append(rs.Rules,
				routing.Rule{Subject: fmt.Sprintf("tenant.t%d.>", i), To: []string{fmt.Sprintf("v%d-a", v)}},
				routing.Rule{Path: fmt.Sprintf("/data/t%d/**", i), To: []string{fmt.Sprintf("v%d-b", v)}},
				routing.Rule{Subject: fmt.Sprintf("tenant.t%d.fs.file.write", i), Path: "/data/**", To: []string{fmt.Sprintf("v%d-c", v)}},
			)
		}
		return rs
	}
	tab := mustNew(t, ruleSet(1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	routed := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []string
			n := 0
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					routed += n
					mu.Unlock()
					return
				default:
				}
				tn := (i + g) % 50
				ev := &semevent.Event{Topic: fmt.Sprintf("tenant.t%d.fs.file.write", tn), Path: fmt.Sprintf("/data/t%d/x", tn)}
				var v uint64
				buf, v = tab.RouteVersion(ev, buf[:0])
				n++
				want := []string{fmt.Sprintf("v%d-a", v), fmt.Sprintf("v%d-b", v), fmt.Sprintf("v%d-c", v)}
				if !slices.Equal(sorted(buf), want) {
					mu.Lock()
					bad = append(bad, fmt.Sprintf("version %d routed %v", v, buf))
					mu.Unlock()
				}
			}
		}()
	}
	for v := 2; v <= 40; v++ {
		if err := tab.Load(ruleSet(v)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d mixed or lost decisions, first: %s", len(bad), bad[0])
	}
	if tab.Version() != 40 || routed == 0 {
		t.Errorf("version %d after 39 reloads, %d events routed", tab.Version(), routed)
	}
}

func TestBalancing(t *testing.T) {
	rs := &routing.RuleSet{
		Groups: []routing.Group{
			{Name: "rr", Members: []string{"a", "b", "c"}},
			{Name: "hash", Members: []string{"h1", "h2", "h3", "h4"}, Strategy: routing.Hash},
			{Name: "least", Members: []string{"l1", "l2"}, Strategy: routing.LeastLoaded},
		},
		Rules: []routing.Rule{
			{Subject: "rr", To: []string{"rr"}},
			{Subject: "hash", To: []string{"hash"}},
			{Subject: "least", To: []string{"least"}},
			{Subject: "twice", To: []string{"rr"}},
			{Subject: "twice", Path: "/x", To: []string{"rr"}},
		},
	}
	tab := mustNew(t, rs)
	count := map[string]int{}
	for range 300 {
		for _, d := range tab.Route(&semevent.Event{Topic: "rr"}, nil) {
			count[d]++
		}
	}
	if count["a"] != 100 || count["b"] != 100 || count["c"] != 100 {
		t.Errorf("round robin spread %v", count)
	}
	owner := map[string]string{}
	perMember := map[string]int{}
	for _, ev := range filtertest.Events(3, 2000) {
		ev.Topic = "hash"
		got := tab.Route(ev, nil)
		if len(got) != 1 {
			t.Fatalf("hash group routed to %v", got)
		}
		// The default key is semevent.PathKey: tenant and path.
		k := semevent.PathKey(ev).String()
		if prev, ok := owner[k]; ok && prev != got[0] {
			t.Errorf("key %s went to %s and %s", k, prev, got[0])
		}
		owner[k] = got[0]
		perMember[got[0]]++
	}
	if len(perMember) < 3 {
		t.Errorf("hash spread over only %v", perMember)
	}
	var seq []string
	for range 4 {
		seq = append(seq, tab.Route(&semevent.Event{Topic: "least"}, nil)...)
	}
	tab.Done("l1")
	tab.Done("l1")
	seq = append(seq, tab.Route(&semevent.Event{Topic: "least"}, nil)...)
	if want := []string{"l1", "l2", "l1", "l2", "l1"}; !slices.Equal(seq, want) {
		t.Errorf("least loaded picked %v, want %v", seq, want)
	}
	if got := tab.Route(&semevent.Event{Topic: "twice", Path: "/x"}, nil); len(got) != 1 {
		t.Errorf("a group named by two matching rules resolved twice: %v", got)
	}
	byUID, err := routing.New(&routing.RuleSet{
		Groups: []routing.Group{{Name: "g", Members: []string{"u1", "u2", "u3"}, Strategy: routing.Hash,
			KeyFunc: func(ev *semevent.Event) semevent.Key { return semevent.Key{N: uint64(ev.UID)} }}},
		Rules: []routing.Rule{{To: []string{"g"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byUIDOwner := map[uint32]string{}
	for _, ev := range filtertest.Events(4, 500) {
		got := byUID.Route(ev, nil)[0]
		if prev, ok := byUIDOwner[ev.UID]; ok && prev != got {
			t.Errorf("UID %d went to %s and %s", ev.UID, prev, got)
		}
		byUIDOwner[ev.UID] = got
	}
	loads := map[string]int64{"l1": 5, "l2": 1}
	tab2, err := routing.New(rs, &routing.Options{Load: func(d string) int64 { return loads[d] }})
	if err != nil {
		t.Fatal(err)
	}
	if got := tab2.Route(&semevent.Event{Topic: "least"}, nil); !slices.Equal(got, []string{"l2"}) {
		t.Errorf("least loaded with Options.Load = %v, want [l2]", got)
	}
}

func TestRouteZeroAllocs(t *testing.T) {
	for _, opts := range []*routing.Options{nil, {NoDecisionCache: true}} {
		tab := benchTable(t, 1000, opts)
		evs := benchEvents(1000, 64)
		buf := make([]string, 0, 16)
		for _, ev := range evs {
			buf = tab.Route(ev, buf[:0])
		}
		i := 0
		if n := testing.AllocsPerRun(1000, func() {
			buf = tab.Route(evs[i%len(evs)], buf[:0])
			i++
		}); n != 0 {
			t.Errorf("Options %+v: Route allocates %v times per decision", opts, n)
		}
	}
	// Never-seen paths do not allocate either: a decision is cached only
	// when its (topic, path) pair comes again.
	for _, opts := range []*routing.Options{nil, {NoDecisionCache: true}} {
		tab := benchTable(t, 1000, opts)
		ev := &semevent.Event{Topic: "tenant.t1.fs.file.write", Path: "/data/t1/logs/x.log", Data: []byte("secret-t0")}
		tab.Route(ev, nil)
		buf := make([]string, 0, 16)
		paths := make([]string, 1100)
		for i := range paths {
			paths[i] = fmt.Sprintf("/data/t1/logs/%d.log", i)
		}
		i := 0
		if n := testing.AllocsPerRun(1000, func() {
			ev.Path = paths[i]
			buf = tab.Route(ev, buf[:0])
			i++
		}); n != 0 {
			t.Errorf("Options %+v: Route allocates %v times per decision on new paths", opts, n)
		}
	}
}

func TestContentTableLimit(t *testing.T) {
	big := make([]string, 0, 2000)
	for i := range 2000 {
		big = append(big, strings.Repeat(fmt.Sprintf("%c%04d", 'a'+i%26, i), 400))
	}
	_, err := routing.New(&routing.RuleSet{Rules: []routing.Rule{{Contains: big, To: []string{"x"}}}}, nil)
	if err == nil || !strings.Contains(err.Error(), "automaton table") {
		t.Errorf("huge content pattern set accepted: %v", err)
	}
}

func TestFilterPanicRecovered(t *testing.T) {
	tab := mustNew(t, &routing.RuleSet{Rules: []routing.Rule{
		{Filter: filter.Func(func(ev *semevent.Event) bool { panic("boom") }), To: []string{"never"}},
		{To: []string{"always"}},
	}})
	if got := tab.Route(&semevent.Event{}, nil); !slices.Equal(got, []string{"always"}) || tab.FilterPanics() != 1 {
		t.Errorf("Route = %v, FilterPanics = %d; want [always], 1", got, tab.FilterPanics())
	}
}

func TestDeepPathPrefixes(t *testing.T) {
	deep := strings.Repeat("/d", 70)
	rs := &routing.RuleSet{}
	for i := range 20 { // enough path rules to use the index
		rs.Rules = append(rs.Rules, routing.Rule{Path: fmt.Sprintf("%s/x%d/**", deep, i), To: []string{fmt.Sprint("r", i)}})
	}
	rs.Rules = append(rs.Rules, routing.Rule{Path: "/d/d/*", To: []string{"shallow"}})
	tab := mustNew(t, rs)
	for _, tt := range []struct {
		path string
		want []string
	}{
		{deep + "/x7/f", []string{"r7"}},
		{deep + "/x7", []string{"r7"}},
		{deep + "/x70/f", nil},
		{deep[:len(deep)-2] + "/x7/f", nil},
		{"/d/d/f", []string{"shallow"}},
		{"", nil},
		{"/", nil},
	} {
		if got := tab.Route(&semevent.Event{Path: tt.path}, nil); !slices.Equal(sorted(got), tt.want) {
			t.Errorf("Route(%.30q…) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestZeroTable(t *testing.T) {
	var tab routing.Table
	if got := tab.Route(&semevent.Event{}, nil); len(got) != 0 || tab.Version() != 0 || tab.Destinations() != nil {
		t.Errorf("zero Table routed to %v, version %d", got, tab.Version())
	}
	tab.Done("x")
	if err := tab.Load(&routing.RuleSet{Rules: []routing.Rule{{To: []string{"a"}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tab.Route(&semevent.Event{}, nil); !slices.Equal(got, []string{"a"}) {
		t.Errorf("after Load: %v", got)
	}
}

func TestOptionsValidate(t *testing.T) {
	if _, err := routing.New(nil, &routing.Options{CacheSize: -1}); !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("CacheSize -1: %v", err)
	}
	tab, err := routing.New(nil, &routing.Options{CacheSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if got := tab.Route(&semevent.Event{Topic: fmt.Sprintf("t%d", i)}, nil); len(got) != 0 {
			t.Errorf("empty table routed to %v", got)
		}
	}
}

// --- differential test ---

var (
	diffTopics = []string{"fs.file.write", "fs.file.read", "fs.dir.create", "tenant.acme.fs.file.write",
		"tenant.globex.fs.file.read", "tenant.acme.fs.dir.create", "semantic.vector.insert"}
	diffGlobs = []string{"/data/**", "/data/logs/*.log", "/data/logs/**", "/home/*/**", "/home/alice/*", "/tmp/*",
		"**/*.db", "/data/logs/b.log", "/var/lib/db/**", "/home/bob/notes.md", "*", "/data/*/a.txt", "/tmp/[a-c]*"}
	diffWords = []string{"secret", "alice", "log", "db", "token", "pub"}
	diffWhen  = []string{"Size > 30000", "Priority >= 0", "UID == 0", `Kind == "write"`, "Size % 3 == 0"}
)

func randomPattern(r *rand.Rand) string {
	toks := strings.Split(diffTopics[r.IntN(len(diffTopics))], ".")
	for i := range toks {
		if r.IntN(4) == 0 {
			toks[i] = "*"
		}
	}
	if r.IntN(3) == 0 {
		cut := 1 + r.IntN(len(toks))
		toks = append(toks[:cut-1:cut-1], ">")
	}
	return strings.Join(toks, ".")
}

func randomRuleSet(r *rand.Rand, n int) *routing.RuleSet {
	rs := &routing.RuleSet{}
	for i := range n {
		rule := routing.Rule{Name: fmt.Sprint("r", i)}
		if r.IntN(5) != 0 {
			rule.Subject = randomPattern(r)
		}
		if r.IntN(2) == 0 {
			rule.Path = diffGlobs[r.IntN(len(diffGlobs))]
		}
		if r.IntN(5) == 0 {
			for range 1 + r.IntN(2) {
				rule.Contains = append(rule.Contains, diffWords[r.IntN(len(diffWords))])
			}
			for _, f := range []string{"path", "attrs", "data"} {
				if r.IntN(2) == 0 {
					rule.In = append(rule.In, f)
				}
			}
		}
		if r.IntN(8) == 0 {
			rule.When = diffWhen[r.IntN(len(diffWhen))]
		}
		for range 1 + r.IntN(2) {
			switch r.IntN(10) {
			case 0:
				rule.To = append(rule.To, "gA")
			case 1:
				rule.To = append(rule.To, "gB")
			default:
				rule.To = append(rule.To, fmt.Sprint("d", r.IntN(40)))
			}
		}
		rs.Rules = append(rs.Rules, rule)
	}
	// Single-member groups resolve deterministically whatever the strategy;
	// gA's member is also a plain destination.
	rs.Groups = []routing.Group{
		{Name: "gA", Members: []string{"d3"}, Strategy: routing.RoundRobin},
		{Name: "gB", Members: []string{"m1"}, Strategy: routing.LeastLoaded},
	}
	return rs
}

var groupMember = map[string]string{"gA": "d3", "gB": "m1"}

// reference routes by checking every rule, with independent matchers.
type reference struct {
	rules []routing.Rule
	subj  [][]string // pattern tokens, nil for any subject
	globs []filter.Filter
	when  []filter.Filter
}

func newReference(t testing.TB, rs *routing.RuleSet) *reference {
	ref := &reference{rules: rs.Rules}
	for _, r := range rs.Rules {
		var g, w filter.Filter
		var err error
		if r.Path != "" {
			if g, err = filter.PathGlob(r.Path); err != nil {
				t.Fatal(err)
			}
		}
		if r.When != "" {
			if w, err = filter.Compile(r.When, nil); err != nil {
				t.Fatal(err)
			}
		}
		ref.globs = append(ref.globs, g)
		ref.when = append(ref.when, w)
		var toks []string
		if r.Subject != "" {
			toks = strings.Split(r.Subject, ".")
		}
		ref.subj = append(ref.subj, toks)
	}
	return ref
}

func (ref *reference) route(ev *semevent.Event) []string {
	var out []string
	topic := ev.TopicOrKind()
	st := strings.Split(topic, ".")
	if topic == "" || slices.Contains(st, "") {
		st = nil // invalid subjects match no pattern
	}
	for i, r := range ref.rules {
		if ref.subj[i] != nil && !refMatchTokens(ref.subj[i], st) {
			continue
		}
		if ref.globs[i] != nil && !ref.globs[i].Match(ev) {
			continue
		}
		if len(r.Contains) > 0 && !refContains(r, ev) {
			continue
		}
		if ref.when[i] != nil && !ref.when[i].Match(ev) {
			continue
		}
		for _, d := range r.To {
			if m, ok := groupMember[d]; ok {
				d = m
			}
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	slices.Sort(out)
	return out
}

func refContains(r routing.Rule, ev *semevent.Event) bool {
	in := r.In
	if len(in) == 0 {
		in = []string{"path", "attrs", "data"}
	}
	for _, p := range r.Contains {
		for _, f := range in {
			switch f {
			case "path":
				if strings.Contains(ev.Path, p) {
					return true
				}
			case "data":
				if strings.Contains(string(ev.Data), p) {
					return true
				}
			case "attrs":
				for _, a := range ev.Attrs {
					if strings.Contains(a.Value, p) {
						return true
					}
				}
			}
		}
	}
	return false
}

// TestDifferential routes 120 random rule sets × 1000 random events
// (120k decisions) and compares every decision with the reference.
func TestDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	odd := []string{"", "a..b", ".fs", "fs.", "fs.file.write.extra"}
	decisions, nonEmpty := 0, 0
	for round := range 120 {
		n := 5 + r.IntN(100)
		if round%20 == 0 {
			n = 400
		}
		rs := randomRuleSet(r, n)
		tab, err := routing.New(rs, &routing.Options{CacheSize: 1 + r.IntN(64), DecisionCacheSize: 1 + r.IntN(256), NoDecisionCache: round%3 == 0})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ref := newReference(t, rs)
		evs := filtertest.Events(uint64(round), 1000)
		var buf []string
		for i, ev := range evs {
			if i%50 == 0 {
				ev.Topic = odd[(i/50)%len(odd)]
			}
			buf = tab.Route(ev, buf[:0])
			got, want := sorted(buf), ref.route(ev)
			if !slices.Equal(got, want) {
				t.Fatalf("round %d (%d rules), event %d %+v (topic %q):\nrouter    %v\nreference %v", round, n, i, ev, ev.TopicOrKind(), got, want)
			}
			decisions++
			if len(want) > 0 {
				nonEmpty++
			}
		}
	}
	if nonEmpty < decisions/4 || nonEmpty == decisions {
		t.Errorf("%d of %d decisions non-empty: the test does not exercise both outcomes", nonEmpty, decisions)
	}
	t.Logf("%d decisions agree (%d non-empty)", decisions, nonEmpty)
}
