package coordlog

import (
	"context"
	"testing"

	"github.com/vexfs/semevent"
)

func TestReadAcrossChunks(t *testing.T) {
	l := New[int]()
	var want []int
	for i := range 3*chunkSize + 17 {
		want = append(want, i)
	}
	for i := 0; i < len(want); {
		n := min(1+i%700, len(want)-i)
		if first := l.Append(want[i : i+n]...); first != uint64(i+1) {
			t.Fatalf("Append at %d returned %d", i, first)
		}
		i += n
	}
	if l.Len() != uint64(len(want)) {
		t.Fatalf("Len = %d", l.Len())
	}
	for _, tc := range []struct{ from, max int }{{1, 0}, {chunkSize, 2}, {chunkSize + 1, chunkSize + 5}, {len(want), 10}, {len(want) + 1, 1}} {
		got, first := l.Read(nil, uint64(tc.from), tc.max)
		n := len(want) - (tc.from - 1)
		if n < 0 {
			n = 0
		}
		if tc.max > 0 && n > tc.max {
			n = tc.max
		}
		if first != uint64(tc.from) || len(got) != n {
			t.Fatalf("Read(%d, %d) = %d entries from %d, want %d", tc.from, tc.max, len(got), first, n)
		}
		for k, v := range got {
			if v != tc.from-1+k {
				t.Fatalf("Read(%d, %d)[%d] = %d", tc.from, tc.max, k, v)
			}
		}
	}
	l.Reset([]int{7, 8})
	if all := l.All(); len(all) != 2 || all[1] != 8 {
		t.Fatalf("after Reset: %v", all)
	}
	l.Close()
	if err := l.Wait(context.Background(), 3); err != ErrClosed {
		t.Fatalf("Wait after Close = %v", err)
	}
	if err := l.Wait(context.Background(), 2); err != nil {
		t.Fatalf("Wait for a held index after Close = %v", err)
	}
}

func TestWindowKeepsTheLastN(t *testing.T) {
	w := NewWindow(3)
	id := func(i uint64) semevent.ID { return semevent.MakeID(i, 1, 1) }
	for i := uint64(1); i <= 5; i++ {
		w.Add(id(i), i*10)
	}
	for i := uint64(1); i <= 5; i++ {
		idx, ok := w.Lookup(id(i))
		if want := i >= 3; ok != want || (ok && idx != i*10) {
			t.Errorf("Lookup(%d) = %d, %v; want %v", i, idx, ok, want)
		}
	}
	if w.Len() != 3 || w.Evicted() != 2 {
		t.Errorf("Len, Evicted = %d, %d; want 3, 2", w.Len(), w.Evicted())
	}
	es := w.Entries()
	if len(es) != 3 || es[0].Index != 30 || es[2].Index != 50 {
		t.Errorf("Entries = %v", es)
	}
	// The same ID committed again later (appended by a client that reused
	// an ID beyond the window) keeps the newer index when the old one ages out.
	w.Add(id(3), 60)
	w.Add(id(7), 70)
	if idx, ok := w.Lookup(id(3)); !ok || idx != 60 {
		t.Errorf("Lookup(3) after re-add = %d, %v; want 60", idx, ok)
	}
	w2 := NewWindow(2)
	w2.Reset(w.Entries())
	if w2.Len() != 2 {
		t.Errorf("Reset kept %d, want 2", w2.Len())
	}
	if _, ok := w2.Lookup(id(7)); !ok {
		t.Error("Reset lost the newest")
	}
	w0 := NewWindow(0)
	w0.Add(id(1), 1)
	if _, ok := w0.Lookup(id(1)); ok || w0.Len() != 0 {
		t.Error("a zero window remembers")
	}
}
