package codec_test

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// checkFast holds Parse's fast path to the step-by-step one on b: the fast
// path accepts b exactly when the checked parser does, and then fills the
// same View; Parse returns the checked parser's error.
func checkFast(t testing.TB, b []byte) {
	t.Helper()
	var fast, checked, parsed codec.View
	ok := codec.ParseFast(b, &fast)
	err := codec.ParseChecked(b, &checked)
	if ok != (err == nil) {
		t.Fatalf("parseFast(%x) = %v, parseChecked = %v", b, ok, err)
	}
	if ok && !reflect.DeepEqual(fast, checked) {
		t.Fatalf("parseFast(%x) = %+v, parseChecked %+v", b, fast, checked)
	}
	if perr := codec.Parse(b, &parsed); !reflect.DeepEqual(perr, err) || !reflect.DeepEqual(parsed, checked) {
		t.Fatalf("Parse(%x) = %v, %+v; parseChecked %v, %+v", b, perr, parsed, err, checked)
	}
}

// varintEdges are uvarint encodings around every length boundary, padded
// ones and overflowing ones.
func varintEdges() [][]byte {
	var vs [][]byte
	for s := uint(0); s < 64; s += 7 {
		for _, x := range []uint64{1<<s - 1, 1 << s, 1<<s + 1} {
			vs = append(vs, binary.AppendUvarint(nil, x))
		}
	}
	vs = append(vs, binary.AppendUvarint(nil, 1<<64-1), binary.AppendUvarint(nil, 1<<32-1), binary.AppendUvarint(nil, 1<<32))
	for n := 2; n <= 11; n++ {
		padded := bytes.Repeat([]byte{0x80}, n)
		padded[n-1] = 0 // a padded zero of n bytes
		vs = append(vs, padded)
		over := bytes.Repeat([]byte{0xff}, n)
		over[n-1] = 0x7f // n bytes of value: overflows past 10
		vs = append(vs, over)
	}
	vs = append(vs, append(bytes.Repeat([]byte{0xff}, 9), 0x02), append(bytes.Repeat([]byte{0xff}, 9), 0x01))
	return vs
}

// TestParseFastAgrees: the fast path agrees with the checked parser on
// random records, every prefix and one-byte corruption of them, and
// records whose every scalar field is each of the varint edge cases.
func TestParseFastAgrees(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 300 {
		ev := randomEvent(r)
		if i%3 == 0 {
			ev.Trace, ev.Cause, ev.Attrs, ev.Observed, ev.Data = semevent.TraceContext{}, semevent.ID{}, nil, nil, nil
		}
		good := codec.Append(nil, ev)
		checkFast(t, good)
		for n := range len(good) {
			checkFast(t, good[:n])
		}
		for range 30 {
			b := bytes.Clone(good)
			b[r.IntN(len(b))] = byte(r.UintN(256))
			checkFast(t, b)
		}
	}
	// Each scalar varint (Inode, PID, UID, GID, Offset, Size, Time) and the
	// Data length replaced by each edge case, with short and long tails.
	base := codec.Append(nil, &semevent.Event{Path: "/p"})
	const scalars = 22 + 6 // the fixed part, then the strings: "", "", "/p", ""
	for field := range 8 {
		for _, e := range varintEdges() {
			for _, tail := range [][]byte{nil, {0}, bytes.Repeat([]byte{0}, 12)} {
				b := bytes.Clone(base[:scalars])
				for f := range 8 {
					if f == field {
						b = append(b, e...)
					} else if f < 7 {
						b = append(b, 0)
					}
				}
				if field != 7 {
					b = append(b, byte(len(tail)))
				}
				checkFast(t, append(b, tail...))
			}
		}
	}
}

func FuzzParseFast(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 8 {
		f.Add(codec.Append(nil, randomEvent(r)))
	}
	f.Add(codec.Append(nil, typicalEvent()))
	f.Fuzz(func(t *testing.T, b []byte) { checkFast(t, b) })
}
