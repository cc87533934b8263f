package hist

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIndexUpperBracketEveryValue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	values := []int64{0, 1, 15, 16, 17, 31, 32, 1000, 1 << 40, 1<<63 - 1}
	for range 10000 {
		values = append(values, r.Int64N(1<<uint(r.IntN(62)+1)))
	}
	for _, v := range values {
		i := Index(v)
		if i < 0 || i >= NumBuckets {
			t.Fatalf("Index(%d) = %d out of range", v, i)
		}
		if up := Upper(i); up < v {
			t.Fatalf("Upper(Index(%d)) = %d < value", v, up)
		}
		if i > 0 && Upper(i-1) >= v {
			t.Fatalf("value %d also fits bucket %d (upper %d)", v, i-1, Upper(i-1))
		}
		if v >= 16 && float64(Upper(i)-v) > float64(v)/16 {
			t.Fatalf("bucket of %d is %d wide: error above 1/16", v, Upper(i))
		}
	}
}

func TestQuantilesWithinOneSixteenth(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var h Histogram
	vals := make([]int64, 100000)
	for i := range vals {
		vals[i] = int64(r.ExpFloat64()*2000) + 100
		h.Record(vals[i])
	}
	slices.Sort(vals)
	s := h.Snapshot()
	if s.Total != uint64(len(vals)) {
		t.Fatalf("Total = %d", s.Total)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := s.Quantile(q)
		if got < exact || float64(got-exact) > float64(exact)/16+1 {
			t.Errorf("Quantile(%v) = %d, exact %d", q, got, exact)
		}
	}
	if s.Max() < vals[len(vals)-1] {
		t.Errorf("Max = %d < %d", s.Max(), vals[len(vals)-1])
	}
	var empty Snapshot
	if empty.Quantile(0.5) != 0 || empty.Max() != 0 {
		t.Error("empty snapshot not zero")
	}
}
