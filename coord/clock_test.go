package coord_test

import (
	"testing"

	"github.com/vexfs/semevent/coord"
)

func TestVectorClockCompare(t *testing.T) {
	a := coord.VectorClock{}.Tick(1) // {1:1}
	b := a.Clone().Tick(2)           // {1:1 2:1}
	c := a.Clone().Tick(1)           // {1:2}
	d := b.Clone().Merge(c).Tick(3)  // {1:2 2:1 3:1}
	tests := []struct {
		x, y coord.VectorClock
		want coord.Order
	}{
		{a, a, coord.Equal},
		{a, b, coord.Before},
		{b, a, coord.After},
		{b, c, coord.Concurrent},
		{c, d, coord.Before},
		{nil, a, coord.Before},
		{coord.VectorClock{9: 0}, nil, coord.Equal},
	}
	for _, tt := range tests {
		if got := tt.x.Compare(tt.y); got != tt.want {
			t.Errorf("%v.Compare(%v) = %v, want %v", tt.x, tt.y, got, tt.want)
		}
	}
	if !a.HappensBefore(d) || !b.ConcurrentWith(c) {
		t.Error("HappensBefore/ConcurrentWith disagree with Compare")
	}
}

func TestHLCMonotonicAndCausal(t *testing.T) {
	wall := int64(100)
	clockA := coord.NewHLC(1, func() int64 { return wall })
	clockB := coord.NewHLC(2, func() int64 { return wall - 50 }) // B's clock lags
	prev := clockA.Now()
	for range 100 {
		ts := clockA.Now() // wall time does not move: the logical part does
		if ts.Compare(prev) <= 0 {
			t.Fatalf("Now %v not after %v", ts, prev)
		}
		prev = ts
	}
	msg := clockA.Now()
	got := clockB.Update(msg)
	if got.Compare(msg) <= 0 {
		t.Fatalf("Update(%v) = %v, not after the message", msg, got)
	}
	if next := clockB.Now(); next.Compare(got) <= 0 {
		t.Fatalf("Now after Update = %v, not after %v", next, got)
	}
	wall = 10 // the wall clock steps back
	if ts := clockA.Now(); ts.Compare(prev) <= 0 {
		t.Fatalf("Now went backwards with the wall clock: %v after %v", ts, prev)
	}
}
