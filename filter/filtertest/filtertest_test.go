package filtertest_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/filter/filtertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEventsDeterministic(t *testing.T) {
	a, b := filtertest.Events(9, 300), filtertest.Events(9, 300)
	for i := range a {
		if d := semevent.Diff(a[i], b[i]); d != nil {
			t.Fatalf("event %d differs between runs with the same seed: %v", i, d)
		}
		if err := a[i].Validate(); err != nil {
			t.Fatalf("event %d invalid: %v", i, err)
		}
	}
	c := filtertest.Events(10, 300)
	if semevent.Diff(a[0], c[0]) == nil && semevent.Diff(a[1], c[1]) == nil {
		t.Errorf("different seeds gave the same events")
	}
}

func TestRecorder(t *testing.T) {
	r := filtertest.NewRecorder(true)
	ev := &semevent.Event{Path: "/a"}
	if !r.Match(ev) {
		t.Errorf("Match = false, want true")
	}
	r.SetAnswer(false)
	if r.Match(ev) {
		t.Errorf("Match after SetAnswer(false) = true")
	}
	ev.Path = "/b"
	got := r.Events()
	if r.Len() != 2 || got[0].Path != "/a" {
		t.Errorf("recorded %d events, first %q; want 2, copies", r.Len(), got[0].Path)
	}
}

// recordingTB captures TestFilter's complaints.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// liar says it reads only Path but also reads Size.
type liar struct{}

func (liar) Match(ev *semevent.Event) bool {
	return strings.HasPrefix(ev.Path, "/data") && ev.Size%2 == 0
}
func (liar) Fields() filter.FieldSet { return filter.FieldPath }

// mutator changes the event.
type mutator struct{ mu *sync.Mutex }

func (m mutator) Match(ev *semevent.Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev.Priority = 99
	return true
}

func TestTestFilterCatchesBugs(t *testing.T) {
	for _, tt := range []struct {
		f    filter.Filter
		want string
	}{
		{liar{}, "changing other fields changed Match"},
		{mutator{new(sync.Mutex)}, "Match modified fields [Priority]"},
	} {
		rec := &recordingTB{TB: t}
		filtertest.TestFilter(rec, tt.f)
		if !slices.ContainsFunc(rec.errs, func(s string) bool { return strings.Contains(s, tt.want) }) {
			t.Errorf("TestFilter(%T) reported %d problems, none containing %q", tt.f, len(rec.errs), tt.want)
		}
	}
	ok := &recordingTB{TB: t}
	filtertest.TestFilter(ok, filter.PathPrefix("/data"))
	if len(ok.errs) > 0 {
		t.Errorf("TestFilter(PathPrefix) complained: %v", ok.errs[0])
	}
}
