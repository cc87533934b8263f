package peerbench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
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

// replicatedRun publishes per events from each of the publishers. With
// lat not nil (one slice of capacity per for each publisher), it appends
// the latency of every publish, from the call to its return.
func replicatedRun(ctx context.Context, cl *cluster, per int, lat [][]int64) error {
	return publishers(replicatedPublishers, func(p int) error {
		ev := replicatedEvent(p)
		for k := range per {
			nextEvent(ev, k)
			t0 := time.Now()
			if err := cl.append(ctx, ev); err != nil {
				return fmt.Errorf("publisher %d, event %d: %w", p, k, err)
			}
			if lat != nil {
				lat[p] = append(lat[p], int64(time.Since(t0)))
			}
		}
		return nil
	})
}

// quantiles returns the q-quantiles of the latencies of every publisher.
func quantiles(lat [][]int64, qs ...float64) []float64 {
	all := slices.Concat(lat...)
	slices.Sort(all)
	out := make([]float64, len(qs))
	for i, q := range qs {
		if len(all) > 0 {
			out[i] = float64(all[min(int(q*float64(len(all))), len(all)-1)])
		}
	}
	return out
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
// p99-ns are the publish-to-commit latencies; cpu-ns/event, allocs and
// bytes per event count the whole process, so all three replicas' work is
// in them. cpu-ns/event (user + system CPU time) is what the machine's
// load changes least: on a busy machine events/s and latency mostly say
// how much CPU the other processes left.
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
			lat := make([][]int64, replicatedPublishers)
			for p := range lat {
				lat[p] = make([]int64, 0, per)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			err := replicatedRun(ctx, cl, per, lat)
			cpu := cpuTime(b) - cpu0
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			q := quantiles(lat, 0.50, 0.99)
			reportRate(b, float64(per*replicatedPublishers), "events/s")
			b.ReportMetric(float64(cpu)/float64(per*replicatedPublishers), "cpu-ns/event")
			b.ReportMetric(q[0], "p50-ns")
			b.ReportMetric(q[1], "p99-ns")
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

// cpuTime returns the process's user + system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
