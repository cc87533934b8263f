package coord_test

import (
	"context"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// BenchmarkLocalAppend reports coord.Local's append rate: one event per
// call, and 64 per call.
func BenchmarkLocalAppend(b *testing.B) {
	ctx := context.Background()
	for _, batch := range []int{1, 64} {
		b.Run(map[int]string{1: "single", 64: "batch64"}[batch], func(b *testing.B) {
			c, _ := coord.NewLocal(nil)
			defer c.Close(ctx)
			// The same stamped events are appended again and again, so that
			// the figure is the coordinator's cost, not the benchmark's.
			evs := make([]*semevent.Event, batch)
			for i := range evs {
				evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: "/bench", ID: semevent.MakeID(uint64(i+1), 1, 1), Time: 1}
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(evs)
				if _, err := c.Append(ctx, evs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
