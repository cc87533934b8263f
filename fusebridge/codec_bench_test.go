package fusebridge_test

import (
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// BenchmarkShmCodec measures the encoding and decoding that each event
// crossing the shared-memory channel costs, without the ring.
func BenchmarkShmCodec(b *testing.B) {
	evs := make([]*semevent.Event, 64)
	for i := range evs {
		evs[i] = shmEvent(i*5 + 1)
	}
	b.Run("append", func(b *testing.B) {
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf = codec.Append(buf[:0], evs[i&63])
		}
	})
	b.Run("decode", func(b *testing.B) {
		recs := make([][]byte, 64)
		for i := range recs {
			recs[i] = codec.Append(nil, evs[i])
		}
		var ev semevent.Event
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := codec.Decode(recs[i&63], &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
}
