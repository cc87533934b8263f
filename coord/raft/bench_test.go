package raft

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/internal/hist"
)

// BenchmarkRaftAppend measures appends to a 3-node cluster on loopback
// (no TLS, no proxies):
//
//   - sequential: one event per Append, one appender, on a 1-shard
//     cluster: latency p50/p99.
//   - concurrent64/shards=1: 64 appenders, 256 events per Append, on the
//     same 1-shard cluster: events/s through one Raft group, with
//     concurrent Appends packed into proposals.
//   - concurrent64/shards=4: the same on a fresh 4-shard cluster, the
//     1-shard one closed first, so both run alone.
//
// Events committed stay in memory on all three replicas, so keep b.N
// moderate: -benchtime=2000x for sequential, 400000x for concurrent.
func BenchmarkRaftAppend(b *testing.B) {
	ctx := context.Background()
	// paths[s] holds paths whose key maps to shard s of 4.
	paths := make([][]string, 4)
	for i := 0; len(paths[0]) < 64 || len(paths[1]) < 64 || len(paths[2]) < 64 || len(paths[3]) < 64; i++ {
		p := fmt.Sprint("/bench/", i)
		s := coord.ShardOf(semevent.PathKey(&semevent.Event{Path: p}), 4)
		paths[s] = append(paths[s], p)
	}
	var cl *cluster
	top := b // clusters outlive the sub-benchmarks' runs
	clusterOf := func(b *testing.B, shards int) *Coordinator {
		if cl != nil && len(cl.opts) > 0 && cl.opts[0].Shards != shards {
			cl.Close()
			cl = nil
		}
		if cl == nil {
			cl = newCluster(top, clusterConfig{shards: shards})
		}
		return cl.node(0)
	}
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	b.Run("sequential", func(b *testing.B) {
		c := clusterOf(b, 1)
		var h hist.Histogram
		for b.Loop() {
			ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: paths[0][0], Size: 4096}
			t0 := time.Now()
			if _, err := c.Append(ctx, ev); err != nil {
				b.Fatal(err)
			}
			h.Record(int64(time.Since(t0)))
		}
		s := h.Snapshot()
		b.ReportMetric(float64(s.Quantile(0.5))/1e6, "p50-ms")
		b.ReportMetric(float64(s.Quantile(0.99))/1e6, "p99-ms")
	})
	for _, shards := range []int{1, 4} {
		b.Run(fmt.Sprintf("concurrent64/shards=%d", shards), func(b *testing.B) {
			c := clusterOf(b, shards)
			before := c.Stats()
			const appenders, batch = 64, 256
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for a := range appenders {
				wg.Go(func() {
					p := paths[a%shards][a/shards%64]
					evs := make([]*semevent.Event, batch)
					for {
						n := int(next.Add(batch))
						if n-batch >= b.N {
							return
						}
						for i := range evs {
							evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: p, Offset: int64(n + i), Size: 4096}
						}
						if _, err := c.Append(ctx, evs...); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			el := time.Since(start)
			events := ((b.N + batch - 1) / batch) * batch
			b.ReportMetric(float64(events)/el.Seconds(), "events/s")
			st := c.Stats()
			st.Retries -= before.Retries
			st.Latency = time.Duration((int64(st.Latency)*int64(st.Proposals) - int64(before.Latency)*int64(before.Proposals)) / int64(max(st.Proposals-before.Proposals, 1)))
			st.Events -= before.Events
			st.Proposals -= before.Proposals
			b.ReportMetric(float64(st.Retries), "retries")
			b.ReportMetric(float64(st.Events)/float64(max(st.Proposals, 1)), "events/proposal")
			b.ReportMetric(float64(st.Latency)/1e6, "proposal-ms")
		})
	}
}
