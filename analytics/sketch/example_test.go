package sketch_test

import (
	"fmt"

	"github.com/vexfs/semevent/analytics/sketch"
)

// Two nodes count distinct inodes; merging their sketches counts the union.
func ExampleHLL() {
	a, b := sketch.NewHLL(14), sketch.NewHLL(14)
	for i := range uint64(30000) {
		a.Add(sketch.Hash64(i))         // 0 … 29999
		b.Add(sketch.Hash64(i + 20000)) // 20000 … 49999
	}
	enc, _ := b.MarshalBinary() // as sent over the wire
	var remote sketch.HLL
	_ = remote.UnmarshalBinary(enc)
	_ = a.Merge(&remote)
	fmt.Printf("about %.0fk distinct\n", a.Estimate()/1000)
	// Output: about 50k distinct
}

func ExampleDDSketch() {
	s := sketch.NewDDSketch(0.01, 0)
	for ms := 1; ms <= 1000; ms++ {
		s.Add(float64(ms))
	}
	fmt.Printf("p50 ≈ %.0f, p99 ≈ %.0f (within 1%%)\n", s.Quantile(0.5), s.Quantile(0.99))
	// Output: p50 ≈ 498, p99 ≈ 983 (within 1%)
}

func ExampleTopK() {
	t := sketch.NewTopK(3)
	for _, p := range []string{"/a", "/b", "/a", "/c", "/a", "/d", "/b", "/a"} {
		t.Add(p, 1)
	}
	for _, c := range t.Top(2) {
		fmt.Printf("%s %d (true count ≥ %d)\n", c.Key, c.Count, c.Count-c.Err)
	}
	// Output:
	// /a 4 (true count ≥ 4)
	// /b 2 (true count ≥ 1)
}
