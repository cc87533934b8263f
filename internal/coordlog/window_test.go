package coordlog

import (
	"math/rand/v2"
	"testing"

	"github.com/vexfs/semevent"
)

// mapWindow is the Window as it was before its index (a Go map): the
// model the index is checked against, and the peer of BenchmarkWindow.
type mapWindow struct {
	n    int
	ring []WindowEntry
	head int
	idx  map[semevent.ID]WindowEntry
}

func newMapWindow(n int) *mapWindow {
	return &mapWindow{n: max(n, 0), idx: make(map[semevent.ID]WindowEntry)}
}

func (w *mapWindow) lookup(id semevent.ID) (WindowEntry, bool) {
	e, ok := w.idx[id]
	return e, ok
}

func (w *mapWindow) add(id semevent.ID, index, tag uint64) {
	if w.n == 0 || id.IsZero() {
		return
	}
	e := WindowEntry{ID: id, Index: index, Tag: tag}
	if len(w.ring) < w.n {
		w.ring = append(w.ring, e)
	} else {
		old := w.ring[w.head]
		if w.idx[old.ID].Index == old.Index {
			delete(w.idx, old.ID)
		}
		w.ring[w.head] = e
		w.head = (w.head + 1) % w.n
	}
	w.idx[id] = e
}

// checkWindow runs ops (decoded from b) on a Window and on the model and
// fails at the first difference: adds of new IDs, adds again of IDs held
// or forgotten, lookups of held, forgotten and unknown IDs, and a Reset
// from Entries.
func checkWindow(t *testing.T, n int, b []byte) {
	t.Helper()
	w, m := NewWindow(n), newMapWindow(n)
	var ids []semevent.ID
	index := uint64(0)
	pick := func(x byte) semevent.ID {
		if len(ids) == 0 || x%4 == 0 {
			id := semevent.MakeID(uint64(len(ids)+1)*1000, uint32(x%3), 7) // a new ID
			ids = append(ids, id)
			return id
		}
		return ids[len(ids)-1-int(x)%min(len(ids), 2*n+3)] // a recent one, held or not
	}
	for k, x := range b {
		id := pick(x)
		switch x % 3 {
		case 0, 1:
			index++
			w.AddTagged(id, index, uint64(x))
			m.add(id, index, uint64(x))
		case 2:
			if x%7 == 0 {
				w.Reset(w.Entries())
			}
		}
		for _, id := range ids[max(len(ids)-2*n-3, 0):] {
			gi, gt, gok := w.LookupTag(id)
			e, ok := m.lookup(id)
			if gok != ok || gok && (gi != e.Index || gt != e.Tag) {
				t.Fatalf("n=%d, after op %d: LookupTag(%v) = %d, %d, %v, want %d, %d, %v", n, k, id, gi, gt, gok, e.Index, e.Tag, ok)
			}
		}
		if w.Len() != len(m.ring) {
			t.Fatalf("n=%d, after op %d: Len = %d, want %d", n, k, w.Len(), len(m.ring))
		}
	}
}

// TestWindowMatchesMapModel checks the open-addressing index against the
// map it replaced, over random operations and window sizes, through
// several index growths and a million evictions.
func TestWindowMatchesMapModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 3, 7, 64, 257, 700} {
		b := make([]byte, min(20*n+200, 4000)) // 700: past minSlots/2, so the index grows with old entries in it
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		checkWindow(t, n, b)
	}
	// Many evictions through a large window, new IDs only: the index
	// never holds more than n, and every held ID is found.
	const n = 50_000
	w := NewWindow(n)
	g := semevent.NewIDGenerator(1)
	ids := make([]semevent.ID, 0, 1_000_000)
	for i := range 1_000_000 {
		id := g.NextAt(int64(i))
		ids = append(ids, id)
		w.Add(id, uint64(i+1))
	}
	if w.used != n || len(w.slots) > 4*n || cap(w.ring) != n {
		t.Fatalf("index holds %d of %d slots, ring %d of %d, for a window of %d: want %d, at most %d, and a ring of exactly %d",
			w.used, len(w.slots), len(w.ring), cap(w.ring), n, n, 4*n, n)
	}
	for i, id := range ids {
		idx, ok := w.Lookup(id)
		if want := i >= len(ids)-n; ok != want || ok && idx != uint64(i+1) {
			t.Fatalf("Lookup(ids[%d]) = %d, %v, want held %v", i, idx, ok, want)
		}
	}
}

func FuzzWindow(f *testing.F) {
	f.Add(uint8(3), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 21, 0, 0, 1})
	f.Add(uint8(1), []byte{4, 4, 4, 8, 12, 1, 2})
	f.Fuzz(func(t *testing.T, n uint8, b []byte) {
		checkWindow(t, int(n%40), b)
	})
}

// BenchmarkWindow is the state machine's use of a full default window:
// look up a new ID (a miss), then add it, evicting the oldest. The peer
// is the map the index replaced.
func BenchmarkWindow(b *testing.B) {
	g := semevent.NewIDGenerator(1)
	fill := func(add func(semevent.ID, uint64)) {
		for i := range DefaultWindow {
			add(g.NextAt(int64(i)), uint64(i+1))
		}
	}
	b.Run("index", func(b *testing.B) {
		w := NewWindow(DefaultWindow)
		fill(w.Add)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			id := g.Next()
			if _, _, ok := w.LookupTag(id); ok {
				b.Fatal("new ID found")
			}
			w.AddTagged(id, uint64(DefaultWindow+i+1), 1)
		}
	})
	b.Run("map", func(b *testing.B) {
		w := newMapWindow(DefaultWindow)
		fill(func(id semevent.ID, i uint64) { w.add(id, i, 0) })
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			id := g.Next()
			if _, ok := w.lookup(id); ok {
				b.Fatal("new ID found")
			}
			w.add(id, uint64(DefaultWindow+i+1), 1)
		}
	})
}

// An ID added again after the ring wrapped sits at a lower position than
// its older entry; an index growth then must keep pointing at the newer.
func TestWindowGrowsAfterWrap(t *testing.T) {
	const n = 600
	w, m := NewWindow(n), newMapWindow(n)
	index := uint64(0)
	add := func(id semevent.ID) {
		index++
		w.Add(id, index)
		m.add(id, index, 0)
	}
	id := func(k int) semevent.ID { return semevent.MakeID(uint64(k+1), 1, 1) }
	for range 2 {
		for k := range n / 2 {
			add(id(k)) // each ID twice: the index holds n/2, below minSlots/2
		}
	}
	add(id(n/2 - 1)) // at position 0 now, its older entry at n-1
	for k := range n / 2 {
		add(id(n + k)) // new IDs: the index grows past minSlots/2
	}
	if len(w.slots) <= minSlots {
		t.Fatalf("index of %d slots did not grow", len(w.slots))
	}
	for k := range n + n/2 {
		gi, gok := w.Lookup(id(k))
		e, ok := m.lookup(id(k))
		if gok != ok || gi != e.Index {
			t.Fatalf("Lookup(id %d) = %d, %v, want %d, %v", k, gi, gok, e.Index, ok)
		}
	}
}
