package routing_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/routing"
)

// TestDecisionKeyedByTopicWithoutGlobs (issue 15 item 4): when no rule has
// a path glob, a repeated subject is one cached decision whatever the
// path, so routing events of a known subject with paths seen twice
// allocates nothing (before, each (subject, path) pair seen twice built a
// decision of its own).
func TestDecisionKeyedByTopicWithoutGlobs(t *testing.T) {
	rs := &routing.RuleSet{Rules: []routing.Rule{
		{Subject: "tenant.*.fs.file.write", To: []string{"a"}},
		{Subject: "tenant.t1.>", To: []string{"b"}},
	}}
	tab, err := routing.New(rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &semevent.Event{Topic: "tenant.t1.fs.file.write", Path: "/warm"}
	for range 3 {
		tab.Route(ev, nil)
	}
	paths := make([]string, 600)
	for i := range paths {
		paths[i] = fmt.Sprintf("/data/%d", i)
	}
	buf := make([]string, 0, 4)
	i := 0
	n := testing.AllocsPerRun(500, func() {
		ev.Path = paths[i%len(paths)]
		buf = tab.Route(ev, buf[:0])
		buf = tab.Route(ev, buf[:0]) // the pair's second sight
		i++
	})
	if n != 0 {
		t.Errorf("Route allocates %v times per event for a known subject on new paths, want 0", n)
	}
	slices.Sort(buf)
	if !slices.Equal(buf, []string{"a", "b"}) {
		t.Errorf("Route = %v, want [a b]", buf)
	}
}

// TestTopicKeyedDecisionStillChecksPath: keyed by topic alone, a rule whose
// condition reads the path is still checked on every event's own path.
func TestTopicKeyedDecisionStillChecksPath(t *testing.T) {
	rs := &routing.RuleSet{Rules: []routing.Rule{
		{Subject: "x.>", To: []string{"all"}},
		{Subject: "x.>", Filter: filter.MustCompile(`Path startsWith "/logs/"`), To: []string{"logs"}},
		{Subject: "x.>", Contains: []string{"secret"}, To: []string{"secret"}},
	}}
	tab, err := routing.New(rs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // past the doorkeeper: the decision is cached
		for _, tc := range []struct {
			path string
			want []string
		}{
			{"/logs/a", []string{"all", "logs"}},
			{"/data/a", []string{"all"}},
			{"/data/secret", []string{"all", "secret"}},
		} {
			got := tab.Route(&semevent.Event{Topic: "x.y", Path: tc.path}, nil)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("path %s: Route = %v, want %v", tc.path, got, tc.want)
			}
		}
	}
}
