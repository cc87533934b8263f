package filter_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/filter/filtertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func write(path string, size int64) *semevent.Event {
	return &semevent.Event{Kind: semevent.KindFileWrite, Path: path, Size: size, Tenant: "acme",
		Priority: semevent.PriorityHigh, Boundary: semevent.FUSE,
		Attrs: []semevent.Attr{{Key: "owner", Value: "alice"}}}
}

func mustGlob(t *testing.T, p string) filter.Filter {
	t.Helper()
	f, err := filter.PathGlob(p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTyped(t *testing.T) {
	ev := write("/data/logs/a.log", 5000)
	tests := []struct {
		name string
		f    filter.Filter
		want bool
	}{
		{"All", filter.All, true},
		{"None", filter.None, false},
		{"Kinds hit", filter.Kinds(semevent.KindFileCreate, semevent.KindFileWrite), true},
		{"Kinds miss", filter.Kinds(semevent.KindFileRead), false},
		{"Boundaries hit", filter.Boundaries(semevent.FUSE), true},
		{"Boundaries miss", filter.Boundaries(semevent.Kernel), false},
		{"PathPrefix hit", filter.PathPrefix("/data/"), true},
		{"PathPrefix miss", filter.PathPrefix("/home/"), false},
		{"PathGlob hit", mustGlob(t, "/data/**/*.log"), true},
		{"PathGlob miss", mustGlob(t, "/data/*.log"), false},
		{"SizeRange hit", filter.SizeRange(4096, 8192), true},
		{"SizeRange miss", filter.SizeRange(0, 4095), false},
		{"AttrEquals hit", filter.AttrEquals("owner", "alice"), true},
		{"AttrEquals wrong value", filter.AttrEquals("owner", "bob"), false},
		{"AttrEquals absent", filter.AttrEquals("mime", ""), false},
		{"Tenant hit", filter.Tenants("acme"), true},
		{"Tenants hit", filter.Tenants("globex", "acme"), true},
		{"Tenants miss", filter.Tenants("globex", "initech"), false},
		{"PriorityAtLeast hit", filter.PriorityAtLeast(semevent.PriorityHigh), true},
		{"PriorityAtLeast miss", filter.PriorityAtLeast(semevent.PriorityCritical), false},
		{"PriorityBetween", filter.PriorityBetween(0, 10), true},
		{"And hit", filter.And(filter.Kinds(semevent.KindFileWrite), filter.PathPrefix("/data/"), filter.Tenants("acme")), true},
		{"And miss", filter.And(filter.Kinds(semevent.KindFileWrite), filter.PathPrefix("/home/")), false},
		{"And empty", filter.And(), true},
		{"Or hit", filter.Or(filter.PathPrefix("/home/"), filter.Kinds(semevent.KindFileWrite)), true},
		{"Or miss", filter.Or(filter.PathPrefix("/home/"), filter.Kinds(semevent.KindFileRead), filter.None), false},
		{"Or empty", filter.Or(), false},
		{"Not", filter.Not(filter.PathPrefix("/home/")), true},
		{"Func", filter.Func(func(ev *semevent.Event) bool { return ev.Size%2 == 0 }), true},
	}
	for _, tt := range tests {
		if got := tt.f.Match(ev); got != tt.want {
			t.Errorf("%s: Match(%v) = %v, want %v", tt.name, ev.Path, got, tt.want)
		}
		filtertest.TestFilter(t, tt.f)
	}
}

func TestFieldsOfCombinators(t *testing.T) {
	f := filter.And(filter.PathPrefix("/a"), filter.Or(filter.Kinds(semevent.KindFileRead), filter.Not(filter.SizeRange(0, 1))))
	got, ok := filter.Fields(f)
	if want := filter.FieldPath | filter.FieldKind | filter.FieldSize; !ok || got != want {
		t.Errorf("Fields = %v, %v; want %v", got, ok, want)
	}
	if _, ok := filter.Fields(filter.And(filter.PathPrefix("/a"), filter.Func(func(*semevent.Event) bool { return true }))); ok {
		t.Errorf("And with a Func claims to know its fields")
	}
}

func TestPathGlobError(t *testing.T) {
	_, err := filter.PathGlob("/data/a**")
	var pe *filter.PatternError
	if !errors.As(err, &pe) || pe.Pos != 7 || !errors.Is(err, filter.ErrBadPattern) {
		t.Fatalf("PathGlob error = %v, want *PatternError at byte 7", err)
	}
}

func TestTimeFilters(t *testing.T) {
	base := time.Date(2026, 11, 28, 23, 30, 0, 0, time.UTC)
	at := func(tm time.Time) *semevent.Event { return &semevent.Event{Time: tm.UnixNano()} }
	night, err := filter.TimeOfDay(22*time.Hour, 6*time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	office, err := filter.TimeOfDay(9*time.Hour, 17*time.Hour, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	rng := filter.TimeRange(base.Add(-time.Hour), base.Add(time.Hour))
	open := filter.TimeRange(time.Time{}, base)
	tests := []struct {
		name string
		f    filter.Filter
		tm   time.Time
		want bool
	}{
		{"night 23:30", night, base, true},
		{"night 03:00", night, base.Add(3*time.Hour + 30*time.Minute), true},
		{"night 06:00", night, base.Add(6*time.Hour + 30*time.Minute), false},
		{"office 23:30", office, base, false},
		{"office 12:00", office, base.Add(12*time.Hour + 30*time.Minute), true},
		{"range inside", rng, base, true},
		{"range end excluded", rng, base.Add(time.Hour), false},
		{"range before", rng, base.Add(-2 * time.Hour), false},
		{"open from", open, base.Add(-1000 * time.Hour), true},
		{"open to end", open, base, false},
	}
	for _, tt := range tests {
		if got := tt.f.Match(at(tt.tm)); got != tt.want {
			t.Errorf("%s: Match(%v) = %v, want %v", tt.name, tt.tm, got, tt.want)
		}
	}
	_, err = filter.TimeOfDay(-time.Hour, 25*time.Hour, nil)
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || len(oe.Problems) != 2 {
		t.Errorf("TimeOfDay(-1h, 25h) error = %v, want 2 problems", err)
	}
}

func TestRateLimit(t *testing.T) {
	now := int64(0)
	r, err := filter.NewRateLimit(&filter.RateOptions{Rate: 2, Burst: 3, Key: semevent.TenantKey, Now: func() int64 { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a, b := &semevent.Event{Tenant: "a"}, &semevent.Event{Tenant: "b"}
	var got []bool
	for range 4 {
		got = append(got, r.Match(a))
	}
	if want := []bool{true, true, true, false}; !slices.Equal(got, want) {
		t.Errorf("burst: got %v, want %v", got, want)
	}
	if !r.Match(b) {
		t.Errorf("tenant b limited by tenant a's bucket")
	}
	now += int64(500 * time.Millisecond) // one token at 2/s
	if !r.Match(a) || r.Match(a) {
		t.Errorf("refill after 500ms should pass exactly one event")
	}
	_, err = filter.NewRateLimit(&filter.RateOptions{Rate: -1, Burst: -2, MaxKeys: -3})
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || len(oe.Problems) != 3 || !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("bad RateOptions error = %v, want 3 problems", err)
	}
	if _, err := filter.NewRateLimit(nil); err == nil {
		t.Errorf("NewRateLimit(nil) succeeded")
	}
}

func TestRateLimitMaxKeys(t *testing.T) {
	r, err := filter.NewRateLimit(&filter.RateOptions{Rate: 1, Burst: 1, Key: semevent.PathKey, MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if !r.Match(&semevent.Event{Path: string(rune('a' + i))}) {
			t.Errorf("new key %d limited", i)
		}
	}
	// Buckets are forgotten two at a time at keys 3, 5, 7 and 9.
	if got := r.Evictions(); got != 8 {
		t.Errorf("Evictions() = %d, want 8", got)
	}
}

// TestRateLimitTenants checks that buckets never mix tenants, even with a
// KeyFunc that leaves the tenant out, and that the default key is the
// tenant and path.
func TestRateLimitTenants(t *testing.T) {
	noTenant := func(ev *semevent.Event) semevent.Key { return semevent.Key{S: ev.Path} }
	for _, key := range []semevent.KeyFunc{nil, noTenant} {
		r, err := filter.NewRateLimit(&filter.RateOptions{Rate: 1, Burst: 1, Key: key, Now: func() int64 { return 0 }})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Match(&semevent.Event{Tenant: "a", Path: "/p"}) || r.Match(&semevent.Event{Tenant: "a", Path: "/p"}) {
			t.Errorf("key %p: tenant a's bucket for /p does not hold one token", key)
		}
		if !r.Match(&semevent.Event{Tenant: "b", Path: "/p"}) {
			t.Errorf("key %p: tenant b limited by tenant a's bucket", key)
		}
		if key == nil && !r.Match(&semevent.Event{Tenant: "a", Path: "/q"}) {
			t.Errorf("default key: /q limited by /p's bucket")
		}
	}
}

func TestSample(t *testing.T) {
	s := filter.NewSample(4)
	n := 0
	for range 100 {
		if s.Match(nil) {
			n++
		}
	}
	if n != 25 {
		t.Errorf("1-in-4 sample passed %d of 100", n)
	}
}

func TestChain(t *testing.T) {
	ev := write("/data/x", 10)
	yes, no := filter.All, filter.None
	for _, par := range []bool{false, true} {
		for _, tt := range []struct {
			fs   []filter.Filter
			any  bool
			want bool
		}{
			{[]filter.Filter{yes, yes, yes}, false, true},
			{[]filter.Filter{yes, no, yes}, false, false},
			{[]filter.Filter{no, no, yes}, true, true},
			{[]filter.Filter{no, no, no}, true, false},
			{[]filter.Filter{yes, yes, yes, yes, yes, yes, yes, yes, yes, no}, false, false},
		} {
			c, err := filter.NewChain(tt.fs, &filter.ChainOptions{Any: tt.any, Parallel: par})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Match(ev); got != tt.want {
				t.Errorf("Chain(parallel=%v, any=%v, %d filters) = %v, want %v", par, tt.any, len(tt.fs), got, tt.want)
			}
		}
	}
	rec := filtertest.NewRecorder(true)
	c, err := filter.NewChain([]filter.Filter{rec, rec, rec}, &filter.ChainOptions{Parallel: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Match(ev)
	if rec.Len() != 3 {
		t.Errorf("parallel chain ran %d filters, want 3", rec.Len())
	}
	if _, err := filter.NewChain([]filter.Filter{yes, nil}, nil); !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("NewChain with nil filter: %v", err)
	}
}

func TestCache(t *testing.T) {
	calls := 0
	inner := filter.And(filter.PathPrefix("/data/"), filter.Func(func(ev *semevent.Event) bool { calls++; return ev.Size > 100 }))
	if _, err := filter.NewCache(inner, nil); !errors.Is(err, filter.ErrNotCacheable) {
		t.Fatalf("NewCache of undeclared filter: %v", err)
	}
	c, err := filter.NewCache(inner, &filter.CacheOptions{Fields: filter.FieldPath | filter.FieldSize, Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	a, b := write("/data/a", 200), write("/data/b", 50)
	for range 5 {
		if !c.Match(a) || c.Match(b) {
			t.Fatalf("cached answers wrong")
		}
	}
	if calls != 2 {
		t.Errorf("inner filter called %d times, want 2", calls)
	}
	if hits, misses := c.Stats(); hits != 8 || misses != 2 {
		t.Errorf("Stats = %d hits, %d misses; want 8, 2", hits, misses)
	}
	x := filter.MustCompile(`Path endsWith ".log" && Size / 2 > 10`)
	cx, err := filter.NewCache(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range filtertest.Events(7, 2000) {
		if cx.Match(ev) != x.Match(ev) {
			t.Fatalf("cache disagrees with filter on %+v", ev)
		}
	}
	filtertest.TestFilter(t, cx)
	if _, err := filter.NewCache(x, &filter.CacheOptions{Size: -1, Fields: 1 << 30}); err == nil {
		t.Errorf("bad CacheOptions accepted")
	}
}

func TestZeroAllocs(t *testing.T) {
	ev := write("/data/logs/a.log", 5000)
	x := filter.MustCompile(`Kind == "write" && Size > 4096 && Path startsWith "/data/"`)
	cache, err := filter.NewCache(x, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		f    filter.Filter
	}{
		{"typed", filter.And(filter.Kinds(semevent.KindFileWrite), filter.SizeRange(4097, 1<<40), filter.PathPrefix("/data/"))},
		{"glob", mustGlob(t, "/data/**/*.log")},
		{"expr closure", x},
		{"expr attr", filter.MustCompile(`Attr("owner") in ["alice", "bob"]`)},
		{"cache", cache},
	} {
		if n := testing.AllocsPerRun(200, func() { tt.f.Match(ev) }); n != 0 {
			t.Errorf("%s: Match allocates %v times per call", tt.name, n)
		}
	}
}
