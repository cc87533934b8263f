package coord_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"testing/quick"

	"github.com/vexfs/semevent/coord"
)

// A history is a random list of operations applied on random replicas; the
// laws are checked on the replicas' states afterwards.

const replicas = 4

type laws[T any] struct {
	build func(r *rand.Rand) []T // random histories applied to `replicas` replicas
	equal func(a, b T) bool
	merge func(a, b T) T
}

func (l laws[T]) check(t *testing.T) {
	cfg := &quick.Config{MaxCount: 300}
	f := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, seed^0x9e37))
		s := l.build(r)
		a, b, c := s[0], s[1], s[2]
		if !l.equal(l.merge(a, b), l.merge(b, a)) {
			t.Logf("seed %d: merge not commutative", seed)
			return false
		}
		if !l.equal(l.merge(l.merge(a, b), c), l.merge(a, l.merge(b, c))) {
			t.Logf("seed %d: merge not associative", seed)
			return false
		}
		if !l.equal(l.merge(a, a), a) || !l.equal(l.merge(l.merge(a, b), b), l.merge(a, b)) {
			t.Logf("seed %d: merge not idempotent", seed)
			return false
		}
		// Any merge order of all replicas converges.
		x := l.merge(l.merge(l.merge(s[0], s[1]), s[2]), s[3])
		y := l.merge(s[3], l.merge(s[1], l.merge(s[2], s[0])))
		if !l.equal(x, y) {
			t.Logf("seed %d: replicas do not converge", seed)
			return false
		}
		return true
	}
	if err := quick.Check(f, cfg); err != nil {
		t.Fatal(err)
	}
}

// hlcs returns one clock per replica on a shared, randomly advancing fake
// wall clock, so timestamps often share a wall time.
func hlcs(r *rand.Rand) []*coord.HLC {
	wall := int64(1000)
	now := func() int64 { wall += r.Int64N(3); return wall }
	cs := make([]*coord.HLC, replicas)
	for i := range cs {
		cs[i] = coord.NewHLC(uint64(i+1), now)
	}
	return cs
}

// gossip merges a random replica's state into another now and then, so
// that histories include states that have seen each other's updates.
func gossip[T interface{ Merge(T) T }](r *rand.Rand, s []T) {
	if r.IntN(5) == 0 {
		i, j := r.IntN(replicas), r.IntN(replicas)
		s[i] = s[i].Merge(s[j])
	}
}

func TestGCounterLaws(t *testing.T) {
	laws[*coord.GCounter]{
		build: func(r *rand.Rand) []*coord.GCounter {
			s := make([]*coord.GCounter, replicas)
			for i := range s {
				s[i] = coord.NewGCounter()
			}
			for range r.IntN(60) {
				i := r.IntN(replicas)
				s[i].Inc(uint64(i), uint64(r.IntN(5)))
				gossip(r, s)
			}
			return s
		},
		equal: (*coord.GCounter).Equal,
		merge: (*coord.GCounter).Merge,
	}.check(t)
}

func TestPNCounterLaws(t *testing.T) {
	laws[*coord.PNCounter]{
		build: func(r *rand.Rand) []*coord.PNCounter {
			s := make([]*coord.PNCounter, replicas)
			for i := range s {
				s[i] = coord.NewPNCounter()
			}
			for range r.IntN(60) {
				i := r.IntN(replicas)
				s[i].Add(uint64(i), r.Int64N(11)-5)
				gossip(r, s)
			}
			return s
		},
		equal: (*coord.PNCounter).Equal,
		merge: (*coord.PNCounter).Merge,
	}.check(t)
}

func TestLWWRegisterLaws(t *testing.T) {
	laws[*coord.LWWRegister[int]]{
		build: func(r *rand.Rand) []*coord.LWWRegister[int] {
			cs := hlcs(r)
			s := make([]*coord.LWWRegister[int], replicas)
			for i := range s {
				s[i] = &coord.LWWRegister[int]{}
			}
			for range r.IntN(40) {
				i := r.IntN(replicas)
				s[i].Set(r.IntN(100), cs[i].Now())
				gossip(r, s)
			}
			return s
		},
		equal: func(a, b *coord.LWWRegister[int]) bool { return reflect.DeepEqual(a, b) },
		merge: (*coord.LWWRegister[int]).Merge,
	}.check(t)
}

func TestORSetLaws(t *testing.T) {
	laws[*coord.ORSet[int]]{
		build: func(r *rand.Rand) []*coord.ORSet[int] {
			s := make([]*coord.ORSet[int], replicas)
			for i := range s {
				s[i] = coord.NewORSet[int]()
			}
			for range r.IntN(60) {
				i := r.IntN(replicas)
				if r.IntN(3) == 0 {
					s[i].Remove(r.IntN(8))
				} else {
					s[i].Add(uint64(i), r.IntN(8))
				}
				gossip(r, s)
			}
			return s
		},
		equal: (*coord.ORSet[int]).Equal,
		merge: (*coord.ORSet[int]).Merge,
	}.check(t)
}

func TestLWWMapLaws(t *testing.T) {
	laws[*coord.LWWMap[string, int]]{
		build: func(r *rand.Rand) []*coord.LWWMap[string, int] {
			cs := hlcs(r)
			s := make([]*coord.LWWMap[string, int], replicas)
			for i := range s {
				s[i] = coord.NewLWWMap[string, int]()
			}
			keys := []string{"a", "b", "c", "d"}
			for range r.IntN(60) {
				i := r.IntN(replicas)
				k := keys[r.IntN(len(keys))]
				if r.IntN(4) == 0 {
					s[i].Delete(k, cs[i].Now())
				} else {
					s[i].Set(k, r.IntN(100), cs[i].Now())
				}
				gossip(r, s)
			}
			return s
		},
		equal: (*coord.LWWMap[string, int]).Equal,
		merge: (*coord.LWWMap[string, int]).Merge,
	}.check(t)
}

func TestORSetAddWinsOverConcurrentRemove(t *testing.T) {
	a, b := coord.NewORSet[string](), coord.NewORSet[string]()
	a.Add(1, "x")
	b = b.Merge(a)
	b.Remove("x") // b removes the add it saw
	a.Add(1, "x") // while a adds again, concurrently
	if m := a.Merge(b); !m.Contains("x") {
		t.Error("concurrent add lost to remove")
	}
	c := b.Merge(coord.NewORSet[string]())
	if c.Contains("x") {
		t.Error("removed element present")
	}
}

func TestPNCounterValue(t *testing.T) {
	a, b := coord.NewPNCounter(), coord.NewPNCounter()
	a.Add(1, 10)
	b.Add(2, -3)
	a.Add(1, -2)
	if got := a.Merge(b).Value(); got != 5 {
		t.Errorf("Value = %d, want 5", got)
	}
}
