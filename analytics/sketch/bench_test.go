package sketch_test

import (
	"fmt"
	"testing"

	"github.com/vexfs/semevent/analytics/sketch"
)

func BenchmarkHLLAdd(b *testing.B) {
	h := sketch.NewHLL(14)
	for i := range b.N {
		h.Add(sketch.Hash64(uint64(i)))
	}
}

func BenchmarkDDSketchAdd(b *testing.B) {
	s := sketch.NewDDSketch(0.01, 0)
	for i := range b.N {
		s.Add(float64(i%100000) + 0.5)
	}
}

func BenchmarkDDSketchQuantile(b *testing.B) {
	s := sketch.NewDDSketch(0.01, 0)
	for i := range 100000 {
		s.Add(float64(i) + 0.5)
	}
	b.ResetTimer()
	for range b.N {
		_ = s.Quantile(0.99)
	}
}

func BenchmarkTopKAdd(b *testing.B) {
	t := sketch.NewTopK(64)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("/data/%d", i*i%997)
	}
	b.ResetTimer()
	for i := range b.N {
		t.Add(keys[i%len(keys)], 1)
	}
}
