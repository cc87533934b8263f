package sketch_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vexfs/semevent/analytics/sketch"
)

type codec interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// fuzzDecode checks that decoding never panics, fails only with a
// *DecodeError, and that whatever decodes re-encodes and decodes again to
// the same bytes.
func fuzzDecode(f *testing.F, seed func() []codec, fresh func() codec) {
	for _, s := range seed() {
		b, _ := s.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := fresh()
		err := s.UnmarshalBinary(b)
		if err != nil {
			var de *sketch.DecodeError
			if !errors.As(err, &de) || !errors.Is(err, sketch.ErrCorrupt) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		b2, _ := s.MarshalBinary()
		s2 := fresh()
		if err := s2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		b3, _ := s2.MarshalBinary()
		if string(b2) != string(b3) {
			t.Fatal("re-encoding is not stable")
		}
	})
}

func FuzzHLL(f *testing.F) {
	fuzzDecode(f, func() []codec {
		a, b := sketch.NewHLL(4), sketch.NewHLL(6)
		for i := range 100 {
			b.Add(sketch.Hash64(uint64(i)))
		}
		return []codec{a, b}
	}, func() codec { return new(sketch.HLL) })
}

func FuzzDDSketch(f *testing.F) {
	fuzzDecode(f, func() []codec {
		a, b := sketch.NewDDSketch(0.01, 0), sketch.NewDDSketch(0.05, 8)
		for i := range 100 {
			b.Add(float64(i*i) - 50)
		}
		b.Add(0)
		return []codec{a, b}
	}, func() codec { return new(sketch.DDSketch) })
}

func FuzzTopK(f *testing.F) {
	fuzzDecode(f, func() []codec {
		a, b := sketch.NewTopK(3), sketch.NewTopK(2)
		for i := range 20 {
			b.Add(fmt.Sprint(i%5), 1)
		}
		return []codec{a, b}
	}, func() codec { return new(sketch.TopK) })
}
