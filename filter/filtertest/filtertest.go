// Package filtertest provides helpers for testing code that uses
// [filter.Filter]: a recording filter, a deterministic event generator and
// a conformance check for filter implementations.
package filtertest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

// Recorder is a filter that records every event it is asked about (as a
// copy) and answers with a settable result, by default true. It is safe for
// concurrent use.
type Recorder struct {
	mu     sync.Mutex // guards seen and answer
	seen   []*semevent.Event
	answer bool
}

// NewRecorder returns a Recorder that answers answer.
func NewRecorder(answer bool) *Recorder { return &Recorder{answer: answer} }

// Match records ev and returns the current answer.
func (r *Recorder) Match(ev *semevent.Event) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, ev.Clone())
	return r.answer
}

// SetAnswer changes what Match returns from now on.
func (r *Recorder) SetAnswer(b bool) {
	r.mu.Lock()
	r.answer = b
	r.mu.Unlock()
}

// Events returns copies of the events seen so far, in order.
func (r *Recorder) Events() []*semevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*semevent.Event, len(r.seen))
	for i, ev := range r.seen {
		out[i] = ev.Clone()
	}
	return out
}

// Len returns the number of events seen.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

var (
	tenants  = []string{"", "acme", "globex", "initech"}
	dirs     = []string{"/data", "/data/logs", "/home/alice", "/home/bob", "/tmp", "/var/lib/db"}
	names    = []string{"a.txt", "b.log", "report.pdf", "index.db", "x", "notes.md"}
	attrKeys = []string{"owner", "mime", "label"}
	attrVals = []string{"alice", "bob", "text/plain", "secret", "public"}
	payloads = []string{"", "hello", "secret token", "lorem ipsum dolor", "\x00\x01binary"}
)

// Events returns n pseudo-random but realistic events, the same for the
// same seed: kinds, boundaries, tenants, paths under a few directories,
// sizes, priorities, times, a few attributes and payloads.
func Events(seed uint64, n int) []*semevent.Event {
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	evs := make([]*semevent.Event, n)
	for i := range evs {
		ev := &semevent.Event{
			Kind:     semevent.Kind(r.IntN(int(semevent.KindCustom) + 1)),
			Boundary: semevent.Boundary(r.IntN(semevent.NumBoundaries)),
			Priority: semevent.Priority(r.IntN(41) - 20),
			Tenant:   pick(tenants),
			Path:     pick(dirs) + "/" + pick(names),
			Inode:    r.Uint64N(1 << 20),
			PID:      uint32(r.IntN(5000)),
			UID:      uint32(r.IntN(3) * 1000),
			GID:      uint32(r.IntN(3) * 1000),
			Offset:   r.Int64N(1 << 20),
			Size:     r.Int64N(1 << 16),
			Time:     1_700_000_000_000_000_000 + r.Int64N(1e15),
		}
		if ev.Tenant != "" && r.IntN(2) == 0 {
			ev.Topic = "tenant." + ev.Tenant + "." + ev.Kind.Topic()
		}
		if ev.Kind == semevent.KindFileRename {
			ev.OldPath = pick(dirs) + "/" + pick(names)
		}
		for _, k := range attrKeys {
			if r.IntN(3) == 0 {
				ev.Attrs = append(ev.Attrs, semevent.Attr{Key: k, Value: pick(attrVals)})
			}
		}
		if p := pick(payloads); p != "" {
			ev.Data = []byte(p)
		}
		evs[i] = ev
	}
	return evs
}

// TestFilter checks that f behaves as every [filter.Filter] must over evs
// (or [Events](1, 200) when evs is empty): Match does not modify the event,
// concurrent calls are safe (run it under -race), and when f is a
// [filter.FieldReader] its answer does not change when fields outside
// Fields() change. It reports failures on t.
func TestFilter(t testing.TB, f filter.Filter, evs ...*semevent.Event) {
	t.Helper()
	if len(evs) == 0 {
		evs = Events(1, 200)
	}
	for i, ev := range evs {
		before := ev.Clone()
		f.Match(ev)
		if d := semevent.Diff(before, ev); d != nil {
			t.Errorf("event %d: Match modified fields %v", i, d)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ev := range evs {
				f.Match(ev)
			}
		}()
	}
	wg.Wait()
	fields, ok := filter.Fields(f)
	if !ok {
		return
	}
	for i, ev := range evs {
		want := f.Match(ev)
		other := scramble(ev, fields)
		if got := f.Match(other); got != want {
			t.Errorf("event %d: Fields() = %v, but changing other fields changed Match from %v to %v", i, fields, want, got)
		}
	}
}

// scramble returns a copy of ev with every field outside keep changed.
func scramble(ev *semevent.Event, keep filter.FieldSet) *semevent.Event {
	c := ev.Clone()
	ch := func(f filter.FieldSet) bool { return keep&f == 0 }
	if ch(filter.FieldKind) && ch(filter.FieldTopic) {
		c.Kind = (c.Kind + 1) % (semevent.KindCustom + 1)
	}
	if ch(filter.FieldBoundary) {
		c.Boundary = (c.Boundary + 1) % semevent.NumBoundaries
	}
	if ch(filter.FieldPriority) {
		c.Priority++
	}
	if ch(filter.FieldTopic) {
		c.Topic = "scrambled.topic"
	}
	if ch(filter.FieldTenant) {
		c.Tenant += "-x"
	}
	if ch(filter.FieldPath) {
		c.Path += ".x"
	}
	if ch(filter.FieldOldPath) {
		c.OldPath += ".x"
	}
	if ch(filter.FieldInode) {
		c.Inode++
	}
	if ch(filter.FieldPID) {
		c.PID++
	}
	if ch(filter.FieldUID) {
		c.UID++
	}
	if ch(filter.FieldGID) {
		c.GID++
	}
	if ch(filter.FieldOffset) {
		c.Offset++
	}
	if ch(filter.FieldSize) {
		c.Size++
	}
	if ch(filter.FieldTime) {
		c.Time += 3_600_000_000_123
	}
	if ch(filter.FieldAttrs) {
		c.Attrs = append(slices.Clone(c.Attrs), semevent.Attr{Key: "scrambled", Value: fmt.Sprint(len(c.Attrs))})
	}
	if ch(filter.FieldData) {
		c.Data = append(c.Data, 'x')
	}
	return c
}
