package routingtest_test

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/routing"
	"github.com/vexfs/semevent/routing/routingtest"
)

func TestFakeConforms(t *testing.T) {
	r := routingtest.NewRouter()
	r.Set("fs.file.write", "a", "b")
	r.Set("", "other")
	routingtest.Run(t, r, true)
	if got := r.Route(&semevent.Event{Kind: semevent.KindFileWrite}, nil); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Route = %v", got)
	}
	if len(r.Events()) == 0 {
		t.Errorf("no events recorded")
	}
}

func TestTableConforms(t *testing.T) {
	tab, err := routing.New(&routing.RuleSet{
		Groups: []routing.Group{{Name: "g", Members: []string{"g1", "g2"}, Strategy: routing.Hash}},
		Rules: []routing.Rule{
			{Subject: "fs.>", To: []string{"fs", "g"}},
			{Subject: "tenant.*.>", Path: "/data/**", To: []string{"tenant-data", "fs"}},
			{Contains: []string{"secret"}, To: []string{"dlp"}},
			{When: "Size > 30000", To: []string{"big", "g"}},
		},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	routingtest.Run(t, tab, true)
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// brokenRouter duplicates destinations and modifies the event.
type brokenRouter struct{ mu *sync.Mutex }

func (b brokenRouter) Route(ev *semevent.Event, dst []string) []string {
	b.mu.Lock()
	ev.Size++
	b.mu.Unlock()
	return append(dst, "x", "x")
}

// clobberRouter drops what dst held.
type clobberRouter struct{}

func (clobberRouter) Route(ev *semevent.Event, dst []string) []string { return []string{"x"} }

func TestTestRouterCatchesBugs(t *testing.T) {
	err := routingtest.TestRouter(brokenRouter{new(sync.Mutex)}, false, &semevent.Event{})
	for _, want := range []string{"modified fields [Size]", "duplicate destinations"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("TestRouter(broken) = %v, want an error containing %q", err, want)
		}
	}
	if err := routingtest.TestRouter(clobberRouter{}, false, &semevent.Event{}); err == nil || !strings.Contains(err.Error(), "dropped what dst held") {
		t.Errorf("TestRouter(clobber) = %v", err)
	}
}
