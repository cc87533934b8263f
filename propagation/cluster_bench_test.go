package propagation_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/propagation"
)

// BenchmarkClusterPublish measures a replicated Publish on a bus — 64
// publishers, each waiting for its commit, one subscriber on every node —
// against its baseline, the coordinator's own Append of the same events
// by the same publishers, in the same run: over coord.Local (the bus's
// own cost) and over a real 3-node coord/raft cluster on 127.0.0.1 with
// its logs on disk. Reports events/s and p50-ns/p99-ns of a publish.
//
//	go test -run '^$' -bench BenchmarkClusterPublish -benchtime 20000x ./propagation
func BenchmarkClusterPublish(b *testing.B) {
	type setup struct {
		name string
		make func(b *testing.B) []coord.Coordinator
	}
	for _, s := range []setup{
		{"local", func(b *testing.B) []coord.Coordinator { _, cs := sharedClusterTB(b, 3, 1); return cs }},
		{"raft", func(b *testing.B) []coord.Coordinator {
			rn := newRaftNodesTB(b, 1)
			return []coord.Coordinator{rn.cs[0], rn.cs[1], rn.cs[2]}
		}},
	} {
		b.Run(s.name, func(pb *testing.B) {
			cs := s.make(pb) // closed when the parent ends: sub-benchmarks run several times
			for _, how := range []string{"append", "bus"} {
				pb.Run(how, func(b *testing.B) {
					var publish func(ctx context.Context, ev *semevent.Event) error
					if how == "append" {
						publish = func(ctx context.Context, ev *semevent.Event) error {
							_, err := cs[0].Append(ctx, ev)
							return err
						}
					} else {
						buses := make([]*propagation.Bus, len(cs))
						var delivered atomic.Int64
						for i, c := range cs {
							buses[i] = newNodeBus(b, c, nil) // closed when this run ends
							if _, err := buses[i].Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
								delivered.Add(1)
								return nil
							}), &propagation.SubscribeOptions{Buffer: 1 << 14}); err != nil {
								b.Fatal(err)
							}
						}
						publish = buses[0].Publish
					}
					benchPublishers(b, publish)
				})
			}
		})
	}
}

func benchPublishers(b *testing.B, publish func(ctx context.Context, ev *semevent.Event) error) {
	const publishers = 64
	var next atomic.Int64
	lats := make([][]time.Duration, publishers)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				ev := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.Kernel, Path: fmt.Sprintf("/bench/p%d", p), PID: uint32(p), Offset: i, Size: 4096}
				t0 := time.Now()
				if err := publish(ctx, ev); err != nil {
					b.Error(err)
					return
				}
				lats[p] = append(lats[p], time.Since(t0))
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lats...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2]), "p50-ns")
		b.ReportMetric(float64(all[len(all)*99/100]), "p99-ns")
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}
