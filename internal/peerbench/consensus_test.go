package peerbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// A cluster is a running 3-node replicated log that appends events
// through its leader and returns once they are committed.
type cluster struct {
	append func(ctx context.Context, ev *semevent.Event) error
	// committed counts the events in the replicated log, as the node
	// appends go to sees it (for the tests).
	committed func(ctx context.Context) (int, error)
	close     func()
}

type consensusContender struct {
	name string
	note string
	make func(tb testing.TB) *cluster
}

// consensusContenders lists the 3-node contenders; consensus_semevent_test.go
// adds semevent's coord/raft.
var consensusContenders = []consensusContender{
	{"hashicorp-inmem", "hashicorp/raft, InmemTransport, InmemStore (no disk, no network)", func(tb testing.TB) *cluster { return newHashicorp(tb, "", false, false) }},
	{"hashicorp-tcp", "hashicorp/raft, loopback TCP transport, InmemStore (no disk)", func(tb testing.TB) *cluster { return newHashicorp(tb, "", true, false) }},
	{"hashicorp-tcp-bolt", "hashicorp/raft, loopback TCP transport, raft-boltdb log on disk (fsync per batch)", func(tb testing.TB) *cluster { return newHashicorp(tb, "", true, true) }},
}

// consensusEvent is the appended event: the propagation event with its
// 64-byte payload.
func consensusEvent() *semevent.Event { return benchEvent() }

// logFSM is hashicorp/raft's state machine doing what coord/raft's does:
// keep each committed record in memory.
type logFSM struct {
	mu   sync.Mutex // guards recs
	recs [][]byte
}

func (f *logFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	f.recs = append(f.recs, bytes.Clone(l.Data))
	n := len(f.recs)
	f.mu.Unlock()
	return n
}

func (f *logFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (f *logFSM) Restore(r io.ReadCloser) error       { return r.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnapshot) Release()                          {}

// newHashicorp starts a 3-node hashicorp/raft cluster, its files under base
// (os.TempDir() when empty), with the TCP or in-memory transport and the
// boltdb or in-memory log store.
func newHashicorp(tb testing.TB, base string, tcp, bolt bool) *cluster {
	const n = 3
	dir, err := os.MkdirTemp(base, "peerbench-hraft-")
	if err != nil {
		tb.Fatal(err)
	}
	type node struct {
		r     *raft.Raft
		fsm   *logFSM
		trans raft.Transport
		bolt  *raftboltdb.BoltStore
	}
	nodes := make([]node, n)
	var servers []raft.Server
	trans := make([]raft.Transport, n)
	for i := range n {
		if tcp {
			t, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, io.Discard)
			if err != nil {
				tb.Fatal(err)
			}
			trans[i] = t
		} else {
			_, t := raft.NewInmemTransport("")
			trans[i] = t
		}
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprint(i + 1)), Address: trans[i].LocalAddr()})
	}
	if !tcp {
		for i := range n {
			for j := range n {
				if i != j {
					trans[i].(*raft.InmemTransport).Connect(trans[j].LocalAddr(), trans[j])
				}
			}
		}
	}
	for i := range n {
		conf := raft.DefaultConfig()
		conf.LocalID = servers[i].ID
		conf.Logger = hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
		var logs raft.LogStore
		var stable raft.StableStore
		if bolt {
			bs, err := raftboltdb.NewBoltStore(filepath.Join(dir, fmt.Sprintf("node%d.db", i+1)))
			if err != nil {
				tb.Fatal(err)
			}
			nodes[i].bolt = bs
			logs, stable = bs, bs
		} else {
			s := raft.NewInmemStore()
			logs, stable = s, s
		}
		snaps := raft.NewDiscardSnapshotStore()
		if i == 0 {
			if err := raft.BootstrapCluster(conf, logs, stable, snaps, trans[i], raft.Configuration{Servers: servers}); err != nil {
				tb.Fatal(err)
			}
		}
		fsm := &logFSM{}
		r, err := raft.NewRaft(conf, fsm, logs, stable, snaps, trans[i])
		if err != nil {
			tb.Fatal(err)
		}
		nodes[i].r, nodes[i].fsm, nodes[i].trans = r, fsm, trans[i]
	}
	var mu sync.Mutex // guards leader
	var leader *raft.Raft
	// findLeader waits for a node to be leader and makes it the one
	// appends go to.
	findLeader := func() error {
		for deadline := time.Now().Add(30 * time.Second); ; {
			for _, nd := range nodes {
				if nd.r.State() == raft.Leader {
					mu.Lock()
					leader = nd.r
					mu.Unlock()
					return nil
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("hashicorp/raft: no leader after 30s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := findLeader(); err != nil {
		tb.Fatal(err)
	}
	return &cluster{
		append: func(ctx context.Context, ev *semevent.Event) error {
			// The user's encoding step is part of the work: coord/raft
			// encodes inside Append.
			cmd := codec.Append(nil, ev)
			for {
				mu.Lock()
				l := leader
				mu.Unlock()
				err := l.Apply(cmd, 10*time.Second).Error()
				switch {
				case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrLeadershipTransferInProgress):
					// As coord/raft does, carry on through a leader change
					// (without its exactly-once sessions: a lost
					// leadership may have committed the entry).
					if err := findLeader(); err != nil {
						return err
					}
				default:
					return err
				}
			}
		},
		committed: func(context.Context) (int, error) {
			mu.Lock()
			l := leader
			mu.Unlock()
			if err := l.Barrier(10 * time.Second).Error(); err != nil {
				return 0, err
			}
			for _, nd := range nodes {
				if nd.r == l {
					nd.fsm.mu.Lock()
					defer nd.fsm.mu.Unlock()
					return len(nd.fsm.recs), nil
				}
			}
			return 0, errors.New("hashicorp/raft: the leader is not a node")
		},
		close: func() {
			for _, nd := range nodes {
				nd.r.Shutdown().Error()
				if c, ok := nd.trans.(io.Closer); ok {
					c.Close()
				}
				if nd.bolt != nil {
					nd.bolt.Close()
				}
			}
			os.RemoveAll(dir)
		},
	}
}

// clusters keeps each contender's cluster for the whole run: starting one
// takes seconds, and the benchmark function runs more than once.
var clusters struct {
	mu sync.Mutex // guards m
	m  map[string]*cluster
}

func clusterFor(tb testing.TB, c consensusContender) *cluster {
	clusters.mu.Lock()
	defer clusters.mu.Unlock()
	if cl, ok := clusters.m[c.name]; ok {
		return cl
	}
	if clusters.m == nil {
		clusters.m = make(map[string]*cluster)
	}
	cl := c.make(tb)
	clusters.m[c.name] = cl
	return cl
}

func closeClusters() {
	clusters.mu.Lock()
	defer clusters.mu.Unlock()
	for name, cl := range clusters.m {
		cl.close()
		delete(clusters.m, name)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	closeClusters()
	os.Exit(code)
}

// consensusWriters is the number of concurrent appenders of the
// throughput workload.
const consensusWriters = 64

// BenchmarkConsensus appends events to a 3-node cluster through its
// leader. latency: one append at a time, each timed (p50, p99);
// throughput: 64 goroutines appending at once, which every contender may
// batch.
func BenchmarkConsensus(b *testing.B) {
	ctx := context.Background()
	for _, c := range consensusContenders {
		b.Run("latency/"+c.name, func(b *testing.B) {
			cl := clusterFor(b, c)
			ev := consensusEvent()
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := cl.append(ctx, ev); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			q := func(p float64) float64 { return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)]) }
			b.ReportMetric(q(0.50), "p50-ns")
			b.ReportMetric(q(0.99), "p99-ns")
			reportRate(b, float64(b.N), "events/s")
		})
		b.Run("throughput/"+c.name, func(b *testing.B) {
			cl := clusterFor(b, c)
			per := max(b.N/consensusWriters, 1)
			b.ReportAllocs()
			b.ResetTimer()
			err := publishers(consensusWriters, func(int) error {
				ev := consensusEvent()
				for range per {
					if err := cl.append(ctx, ev); err != nil {
						return err
					}
				}
				return nil
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			reportRate(b, float64(per*consensusWriters), "events/s")
		})
	}
}
