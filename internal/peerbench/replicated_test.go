package peerbench

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/hist"
)

// The replicated-publish workload: a 3-replica log on disk on 127.0.0.1,
// 64 publishers each publishing one event at a time and waiting for its
// commit (a quorum has it), events shaped like the ones a file-system
// watcher sends.

// replicatedPublishers is the number of concurrent publishers.
const replicatedPublishers = 64

// replicatedContender is one 3-replica log. make starts it with its data
// under dir (a b.TempDir on disk) and returns a cluster whose append
// returns once the event is committed on a quorum.
type replicatedContender struct {
	name string
	note string
	make func(tb testing.TB, dir string) *cluster
}

// replicatedContenders lists the contenders; replicated_*_test.go files
// add theirs in init.
var replicatedContenders []replicatedContender

// replicatedEvent returns publisher p's event: a write seen by the kernel
// watcher, with its path, process, trace context and two attributes
// (about 200 bytes encoded). Each publish sets a new ID, Time and Offset.
func replicatedEvent(p int) *semevent.Event {
	ev := &semevent.Event{
		Kind:     semevent.KindFileWrite,
		Boundary: semevent.Kernel,
		Path:     fmt.Sprintf("/srv/projects/team-%02d/reports/2026/q4/summary-%03d.parquet", p%8, p),
		Inode:    uint64(1_000_000 + p),
		PID:      uint32(40_000 + p),
		UID:      1000,
		GID:      1000,
		Size:     65536,
		Seen:     semevent.Boundaries(semevent.Kernel),
		Attrs: []semevent.Attr{
			{Key: "host", Value: "ingest-03.eu-west"},
			{Key: "comm", Value: "etl-writer"},
		},
	}
	for i := range ev.Trace.TraceID {
		ev.Trace.TraceID[i] = byte(p*31 + i + 1)
	}
	for i := range ev.Trace.SpanID {
		ev.Trace.SpanID[i] = byte(p*17 + i + 1)
	}
	ev.Trace.Flags = 1
	return ev
}

// nextEvent readies ev for its k-th publish: a new event as far as every
// contender can tell (zero ID and Time, so that the publisher stamps them;
// coord/raft remembers committed IDs).
func nextEvent(ev *semevent.Event, k int) {
	ev.ID, ev.Time = semevent.ID{}, 0
	ev.Offset = int64(k) * ev.Size
}

// replicatedRun publishes per events from each of the publishers and
// records the latency of every publish, from the call to its return.
func replicatedRun(ctx context.Context, cl *cluster, per int, h *hist.Histogram) error {
	return publishers(replicatedPublishers, func(p int) error {
		ev := replicatedEvent(p)
		for k := range per {
			nextEvent(ev, k)
			t0 := time.Now()
			if err := cl.append(ctx, ev); err != nil {
				return fmt.Errorf("publisher %d, event %d: %w", p, k, err)
			}
			if h != nil {
				h.Record(int64(time.Since(t0)))
			}
		}
		return nil
	})
}

// replicatedClusters keeps the cluster of the sub-benchmark running now:
// the testing package calls a benchmark function more than once (b.N = 1,
// then the target), and a cluster takes seconds to start. Each b.Run gets
// its own, on its own b.TempDir, closed when that sub-benchmark ends.
var replicatedClusters struct {
	mu sync.Mutex // guards m
	m  map[*testing.B]*cluster
}

func replicatedCluster(b *testing.B, c replicatedContender) *cluster {
	replicatedClusters.mu.Lock()
	defer replicatedClusters.mu.Unlock()
	if cl, ok := replicatedClusters.m[b]; ok {
		return cl
	}
	if replicatedClusters.m == nil {
		replicatedClusters.m = make(map[*testing.B]*cluster)
	}
	cl := c.make(b, b.TempDir())
	replicatedClusters.m[b] = cl
	b.Cleanup(func() {
		cl.close()
		replicatedClusters.mu.Lock()
		delete(replicatedClusters.m, b)
		replicatedClusters.mu.Unlock()
	})
	return cl
}

// BenchmarkReplicated: 64 publishers, each publishing b.N/64 events one
// at a time and waiting for each commit, on a fresh 3-replica cluster per
// run with its log on disk. events/s counts committed events; p50-ns and
// p99-ns are the publish-to-commit latencies; allocs and bytes per event
// count the whole process, so all three replicas' work is in them.
func BenchmarkReplicated(b *testing.B) {
	ctx := context.Background()
	for _, c := range replicatedContenders {
		b.Run(c.name, func(b *testing.B) {
			cl := replicatedCluster(b, c)
			// Warm up outside the timer: connections, sessions, the
			// first leader lease.
			if err := replicatedRun(ctx, cl, 4, nil); err != nil {
				b.Fatal(err)
			}
			per := max(b.N/replicatedPublishers, 1)
			var h hist.Histogram
			b.ReportAllocs()
			b.ResetTimer()
			err := replicatedRun(ctx, cl, per, &h)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			s := h.Snapshot()
			reportRate(b, float64(per*replicatedPublishers), "events/s")
			b.ReportMetric(float64(s.Quantile(0.50)), "p50-ns")
			b.ReportMetric(float64(s.Quantile(0.99)), "p99-ns")
		})
	}
}

// TestReplicatedCommits publishes a few hundred events through every
// replicated contender, from the 64 publishers at once.
func TestReplicatedCommits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3-replica clusters")
	}
	for _, c := range replicatedContenders {
		t.Run(c.name, func(t *testing.T) {
			cl := c.make(t, t.TempDir())
			defer cl.close()
			ctx := context.Background()
			if err := replicatedRun(ctx, cl, 5, nil); err != nil {
				t.Fatal(err)
			}
			const want = 5 * replicatedPublishers
			if got, err := cl.committed(ctx); err != nil || got != want {
				t.Fatalf("%s holds %d events (%v), want %d", c.name, got, err, want)
			}
		})
	}
}
