package sketch_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vexfs/semevent/analytics/sketch"
)

func TestHLLWithinBound(t *testing.T) {
	for _, tc := range []struct {
		p, n int
	}{{10, 0}, {10, 1}, {10, 100}, {10, 5000}, {12, 20000}, {14, 1000}, {14, 40000}, {14, 200000}} {
		h := sketch.NewHLL(tc.p)
		parts := []*sketch.HLL{sketch.NewHLL(tc.p), sketch.NewHLL(tc.p), sketch.NewHLL(tc.p)}
		for i := range tc.n {
			x := sketch.Hash64(uint64(i) + uint64(tc.p)<<40)
			h.Add(x)
			h.Add(x) // duplicates do not count
			parts[i%3].Add(x)
		}
		for _, p := range parts[1:] {
			if err := parts[0].Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		se := 1.04 / math.Sqrt(float64(int(1)<<tc.p))
		bound := 4*se*float64(tc.n) + 1 // 4 standard errors, and ±1 for tiny n
		if got := h.Estimate(); math.Abs(got-float64(tc.n)) > bound {
			t.Errorf("HLL(p=%d).Estimate() over %d distinct = %.1f, want within %.1f", tc.p, tc.n, got, bound)
		}
		if a, b := h.Estimate(), parts[0].Estimate(); a != b {
			t.Errorf("HLL(p=%d): merged parts estimate %v, whole %v", tc.p, b, a)
		}
	}
	if err := sketch.NewHLL(10).Merge(sketch.NewHLL(12)); !errors.Is(err, sketch.ErrIncompatible) {
		t.Errorf("Merge(p=10, p=12) = %v, want ErrIncompatible", err)
	}
}

func TestDDSketchRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func() float64{
		"uniform":   func() float64 { return r.Float64() * 1000 },
		"lognormal": func() float64 { return math.Exp(r.NormFloat64() * 3) },
		"mixed":     func() float64 { return r.NormFloat64() * 100 },
		"zeros":     func() float64 { return float64(r.IntN(3) - 1) },
		"constant":  func() float64 { return 42 },
	}
	for name, gen := range gens {
		for _, n := range []int{1, 7, 1000, 50000} {
			all := sketch.NewDDSketch(0.01, 0)
			a, b := sketch.NewDDSketch(0.01, 0), sketch.NewDDSketch(0.01, 0)
			vals := make([]float64, n)
			for i := range vals {
				vals[i] = gen()
				all.Add(vals[i])
				if i%2 == 0 {
					a.Add(vals[i])
				} else {
					b.Add(vals[i])
				}
			}
			if err := a.Merge(b); err != nil {
				t.Fatal(err)
			}
			slices.Sort(vals)
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
				want := vals[int(q*float64(n-1))]
				for which, s := range map[string]*sketch.DDSketch{"whole": all, "merged": a} {
					got := s.Quantile(q)
					if math.Abs(got-want) > 0.01*math.Abs(want)+1e-9 {
						t.Errorf("%s n=%d %s: Quantile(%v) = %v, want %v ±1%%", name, n, which, q, got, want)
					}
				}
			}
		}
	}
	if !math.IsNaN(sketch.NewDDSketch(0, 0).Quantile(0.5)) {
		t.Error("Quantile of empty sketch is not NaN")
	}
}

func TestDDSketchCollapse(t *testing.T) {
	s := sketch.NewDDSketch(0.01, 64)
	for i := range 2000 {
		s.Add(math.Pow(1.1, float64(i%400)))
		s.Add(math.Pow(1.1, float64(400-i%400)))
	}
	if !s.Collapsed() {
		t.Fatal("no collapse with 64 bins over a 1.1^400 range")
	}
	// The top quantiles stay accurate.
	if got, want := s.Quantile(1), math.Pow(1.1, 400); math.Abs(got-want) > 0.01*want {
		t.Errorf("Quantile(1) = %v, want %v", got, want)
	}
	if got := s.Count(); got != 4000 {
		t.Errorf("Count() = %d, want 4000", got)
	}
}

func TestTopKBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const capacity = 32
	whole := sketch.NewTopK(capacity)
	parts := []*sketch.TopK{sketch.NewTopK(capacity), sketch.NewTopK(capacity)}
	exact := map[string]uint64{}
	const n = 100000
	for i := range n {
		// Zipf-like: key k with probability ∝ 1/k.
		k := fmt.Sprintf("/p/%d", int(math.Exp(r.Float64()*math.Log(5000))))
		exact[k]++
		whole.Add(k, 1)
		parts[i%2].Add(k, 1)
	}
	if err := parts[0].Merge(parts[1]); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*sketch.TopK{"whole": whole, "merged": parts[0]} {
		bound := uint64(n / capacity)
		if name == "merged" {
			bound = 2 * uint64(n/capacity) // (N1+N2)/m, each part rounded
		}
		got := map[string]sketch.Counter{}
		for _, c := range s.Top(capacity) {
			got[c.Key] = c
			e := exact[c.Key]
			if c.Count < e || c.Count-c.Err > e || c.Err > bound {
				t.Errorf("%s: %q count %d err %d, exact %d, bound %d", name, c.Key, c.Count, c.Err, e, bound)
			}
		}
		for k, e := range exact {
			if e > bound {
				if _, ok := got[k]; !ok {
					t.Errorf("%s: heavy hitter %q (%d > N/m = %d) missing", name, k, e, bound)
				}
			}
		}
		if s.Total() != n {
			t.Errorf("%s: Total() = %d, want %d", name, s.Total(), n)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	h := sketch.NewHLL(8)
	d := sketch.NewDDSketch(0.02, 100)
	k := sketch.NewTopK(4)
	for i := range 500 {
		h.Add(sketch.Hash64(uint64(i)))
		d.Add(float64(i) - 100)
		k.Add(fmt.Sprint(i%9), uint64(i%3+1))
	}
	for _, tc := range []struct {
		name string
		in   interface{ MarshalBinary() ([]byte, error) }
		out  interface{ UnmarshalBinary([]byte) error }
		eq   func() bool
	}{
		{"HLL", h, new(sketch.HLL), nil},
		{"DDSketch", d, new(sketch.DDSketch), nil},
		{"TopK", k, new(sketch.TopK), nil},
	} {
		b, _ := tc.in.MarshalBinary()
		if err := tc.out.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: UnmarshalBinary(MarshalBinary()) = %v", tc.name, err)
		}
		b2, _ := tc.out.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
		if string(b) != string(b2) {
			t.Errorf("%s: re-encoding differs", tc.name)
		}
		for i := range b {
			if err := tc.out.UnmarshalBinary(b[:i]); err == nil {
				t.Errorf("%s: truncated to %d bytes decodes", tc.name, i)
			} else if !errors.Is(err, sketch.ErrCorrupt) {
				t.Errorf("%s: error %v does not wrap ErrCorrupt", tc.name, err)
			}
		}
	}
}
