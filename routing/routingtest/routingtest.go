// Package routingtest provides a fake [routing.Router] for users' tests and
// TestRouter, a conformance check for Router implementations.
package routingtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter/filtertest"
	"github.com/vexfs/semevent/routing"
)

// Router is a fake router: it sends events to destinations by exact topic
// (see Set), records every event it routes (as a copy), and is safe for
// concurrent use.
type Router struct {
	mu     sync.Mutex // guards routes, deflt and seen
	routes map[string][]string
	deflt  []string
	seen   []*semevent.Event
}

var _ routing.Router = (*Router)(nil)

// NewRouter returns a Router that routes nothing until told to.
func NewRouter() *Router { return &Router{routes: map[string][]string{}} }

// Set routes events whose TopicOrKind is topic to dests; topic "" sets the
// destinations of every other topic.
func (r *Router) Set(topic string, dests ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if topic == "" {
		r.deflt = slices.Clone(dests)
		return
	}
	r.routes[topic] = slices.Clone(dests)
}

// Route appends the destinations set for ev's topic.
func (r *Router) Route(ev *semevent.Event, dst []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, ev.Clone())
	ds, ok := r.routes[ev.TopicOrKind()]
	if !ok {
		ds = r.deflt
	}
	for _, d := range ds {
		if !slices.Contains(dst, d) {
			dst = append(dst, d)
		}
	}
	return dst
}

// Events returns copies of the events routed so far.
func (r *Router) Events() []*semevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*semevent.Event, len(r.seen))
	for i, ev := range r.seen {
		out[i] = ev.Clone()
	}
	return out
}

// TestRouter checks what every [routing.Router] must do, over evs (or
// filtertest.Events(1, 500) when empty): Route keeps what dst already
// holds, appends each destination at most once, does not modify the event,
// is safe for concurrent use (run it under -race) and, for deterministic
// routers (deterministic true: no round-robin or least-loaded groups),
// gives the same destinations every time. Failures are joined into the
// returned error.
func TestRouter(r routing.Router, deterministic bool, evs ...*semevent.Event) error {
	if len(evs) == 0 {
		evs = filtertest.Events(1, 500)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for i, ev := range evs {
		before := ev.Clone()
		prefix := []string{"\x00existing"}
		got := r.Route(ev, prefix)
		if len(got) == 0 || got[0] != "\x00existing" {
			fail("event %d: Route dropped what dst held: %q", i, got)
			continue
		}
		got = got[1:]
		if d := semevent.Diff(before, ev); d != nil {
			fail("event %d: Route modified fields %v", i, d)
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(got) {
			fail("event %d: duplicate destinations %q", i, got)
		}
		if deterministic {
			again := r.Route(ev, nil)
			slices.Sort(again)
			if !slices.Equal(again, sorted) {
				fail("event %d: routed to %q, then %q", i, sorted, again)
			}
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []string
			for _, ev := range evs {
				buf = r.Route(ev, buf[:0])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Run is TestRouter reporting on t.
func Run(t testing.TB, r routing.Router, deterministic bool, evs ...*semevent.Event) {
	t.Helper()
	if err := TestRouter(r, deterministic, evs...); err != nil {
		t.Error(err)
	}
}
