package raft

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// BenchmarkReplicatedPublish is the replicated-publish workload of
// internal/peerbench's BenchmarkReplicated on coord/raft alone, so that
// its profiles (-cpuprofile, -mutexprofile, -blockprofile) hold nothing
// but this package, dragonboat and the codec: a fresh 3-node cluster on
// 127.0.0.1 with its directories in b.TempDir() (on disk), 64 publishers
// each appending one watcher-shaped event at a time through the leader
// and waiting for its commit. Reports events/s, p50-ns and p99-ns, and
// the proposals' packing (events/proposal), and the CPU time the whole
// process (three nodes) spent per event (cpu-ns/event), which a loaded
// machine changes less than events/s. Sub-benchmarks: default
// options; MaxInflight 1, 16 and 64 (how many proposals the writer keeps
// in flight); and the node directories on tmpfs (/dev/shm), where fsync
// costs nothing. Profile one at a time:
//
//	go test -run '^$' -bench 'BenchmarkReplicatedPublish/default' -benchtime 64000x \
//		-cpuprofile cpu.out -mutexprofile mutex.out -blockprofile block.out ./coord/raft
func BenchmarkReplicatedPublish(b *testing.B) {
	for _, v := range []struct {
		name  string
		tweak func(b *testing.B, o *Options)
	}{
		{"default", nil},
		{"maxinflight=1", func(_ *testing.B, o *Options) { o.MaxInflight = 1 }},
		{"maxinflight=16", func(_ *testing.B, o *Options) { o.MaxInflight = 16 }},
		{"maxinflight=64", func(_ *testing.B, o *Options) { o.MaxInflight = 64 }},
		{"tmpfs", func(b *testing.B, o *Options) {
			if _, err := os.Stat("/dev/shm"); err != nil {
				b.Skip("no /dev/shm")
			}
			o.Dir = filepath.Join("/dev/shm", "semevent-bench-"+filepath.Base(filepath.Dir(o.Dir)), filepath.Base(o.Dir))
			b.Cleanup(func() { os.RemoveAll(filepath.Dir(o.Dir)) })
		}},
	} {
		b.Run(v.name, func(b *testing.B) {
			var tweak func(o *Options)
			if v.tweak != nil {
				tweak = func(o *Options) { v.tweak(b, o) }
			}
			benchReplicatedPublish(b, tweak)
		})
	}
}

// benchReplicatedPublish runs the workload on a fresh cluster whose
// options tweak changes.
func benchReplicatedPublish(b *testing.B, tweak func(o *Options)) {
	const publishers = 64
	cl := newCluster(b, clusterConfig{tweak: tweak})
	ctx := context.Background()
	var leader *Coordinator
	for deadline := time.Now().Add(30 * time.Second); leader == nil; time.Sleep(10 * time.Millisecond) {
		if i := cl.leader(); i >= 0 {
			leader = cl.node(i)
		} else if time.Now().After(deadline) {
			b.Fatal("no leader after 30s")
		}
	}
	run := func(per int, lat [][]int64) error {
		var wg sync.WaitGroup
		errs := make([]error, publishers)
		for p := range publishers {
			wg.Go(func() {
				ev := publishEvent(p)
				for k := range per {
					ev.ID, ev.Time, ev.Offset = semevent.ID{}, 0, int64(k)*ev.Size
					t0 := time.Now()
					if _, err := leader.Append(ctx, ev); err != nil {
						errs[p] = fmt.Errorf("publisher %d, event %d: %w", p, k, err)
						return
					}
					if lat != nil {
						lat[p] = append(lat[p], int64(time.Since(t0)))
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := run(4, nil); err != nil { // warm up: sessions, connections
		b.Fatal(err)
	}
	per := max(b.N/publishers, 1)
	lat := make([][]int64, publishers)
	for p := range lat {
		lat[p] = make([]int64, 0, per)
	}
	before := leader.Stats()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), benchCPUTime(b)
	err := run(per, lat)
	el, cpu := time.Since(start), benchCPUTime(b)-cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	st := leader.Stats()
	b.ReportMetric(float64(per*publishers)/el.Seconds(), "events/s")
	b.ReportMetric(float64(cpu)/float64(per*publishers), "cpu-ns/event")
	b.ReportMetric(float64(all[len(all)/2]), "p50-ns")
	b.ReportMetric(float64(all[min(len(all)*99/100, len(all)-1)]), "p99-ns")
	b.ReportMetric(float64(st.Events-before.Events)/float64(max(st.Proposals-before.Proposals, 1)), "events/proposal")
}

// publishEvent is publisher p's event, as internal/peerbench's
// replicatedEvent: a kernel-seen write with path, pid, trace context and
// two attributes.
func publishEvent(p int) *semevent.Event {
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
		Attrs:    []semevent.Attr{{Key: "host", Value: "ingest-03.eu-west"}, {Key: "comm", Value: "etl-writer"}},
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

// benchCPUTime returns the process's user + system CPU time.
func benchCPUTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDragonboatFloor is the replicated-publish workload on bare
// dragonboat, configured as coord/raft configures it (RTT 1ms, the small
// pebble LogDB, CheckQuorum and PreVote, the same election and heartbeat
// ticks), with none of coord/raft: a state machine that only counts
// entries, the NoOP session (no exactly-once), and each publisher
// proposing its one encoded event itself (no writer packing events into
// proposals; dragonboat's step worker still puts the proposals that wait
// together into one Raft update, one LogDB write and fsync). What
// coord/raft's Append adds to a commit is the difference.
func BenchmarkDragonboatFloor(b *testing.B) {
	const publishers = 64
	dir := b.TempDir()
	members := make(map[uint64]dragonboat.Target)
	for i := range 3 {
		members[uint64(i+1)] = fmt.Sprintf("127.0.0.1:%d", freePort(b))
	}
	nhs := make([]*dragonboat.NodeHost, 3)
	for i := range nhs {
		nh, err := dragonboat.NewNodeHost(config.NodeHostConfig{
			NodeHostDir:    filepath.Join(dir, fmt.Sprint("node", i+1)),
			RTTMillisecond: 1,
			RaftAddress:    members[uint64(i+1)],
			Expert:         config.ExpertConfig{LogDB: config.GetSmallMemLogDBConfig()},
		})
		if err != nil {
			b.Fatal(err)
		}
		nhs[i] = nh
		defer nh.Close()
	}
	for i, nh := range nhs {
		err := nh.StartReplica(members, false, func(uint64, uint64) sm.IStateMachine { return &countSM{} }, config.Config{
			ReplicaID: uint64(i + 1), ShardID: 1, CheckQuorum: true, PreVote: true,
			ElectionRTT: DefaultElectionRTT, HeartbeatRTT: DefaultHeartbeatRTT,
			SnapshotEntries: DefaultSnapshotEntries, CompactionOverhead: DefaultSnapshotEntries / 2,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var leader *dragonboat.NodeHost
	for deadline := time.Now().Add(30 * time.Second); leader == nil; time.Sleep(10 * time.Millisecond) {
		if id, _, ok, _ := nhs[0].GetLeaderID(1); ok && id >= 1 && id <= 3 {
			leader = nhs[id-1]
		} else if time.Now().After(deadline) {
			b.Fatal("no leader after 30s")
		}
	}
	ctx := context.Background()
	run := func(per int, lat [][]int64) error {
		var wg sync.WaitGroup
		errs := make([]error, publishers)
		for p := range publishers {
			wg.Go(func() {
				ids := semevent.NewIDGenerator(uint32(p + 1))
				ev := publishEvent(p)
				var cmd []byte
				sess := leader.GetNoOPSession(1)
				for k := range per {
					ev.ID, ev.Time, ev.Offset = semevent.ID{}, 0, int64(k)*ev.Size
					t0 := time.Now()
					ids.Stamp(ev)
					cmd = codec.Append(cmd[:0], ev)
					pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					_, err := leader.SyncPropose(pctx, sess, cmd)
					cancel()
					if err != nil {
						errs[p] = fmt.Errorf("publisher %d, event %d: %w", p, k, err)
						return
					}
					if lat != nil {
						lat[p] = append(lat[p], int64(time.Since(t0)))
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := run(4, nil); err != nil {
		b.Fatal(err)
	}
	per := max(b.N/publishers, 1)
	lat := make([][]int64, publishers)
	for p := range lat {
		lat[p] = make([]int64, 0, per)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), benchCPUTime(b)
	err := run(per, lat)
	el, cpu := time.Since(start), benchCPUTime(b)-cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(per*publishers)/el.Seconds(), "events/s")
	b.ReportMetric(float64(cpu)/float64(per*publishers), "cpu-ns/event")
	b.ReportMetric(float64(all[len(all)/2]), "p50-ns")
	b.ReportMetric(float64(all[min(len(all)*99/100, len(all)-1)]), "p99-ns")
}

// countSM is BenchmarkDragonboatFloor's state machine: it counts entries.
type countSM struct{ n uint64 }

func (s *countSM) Update(e sm.Entry) (sm.Result, error) {
	s.n++
	return sm.Result{Value: e.Index}, nil
}
func (s *countSM) Lookup(any) (any, error) { return s.n, nil }
func (s *countSM) SaveSnapshot(w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	_, err := fmt.Fprint(w, s.n)
	return err
}
func (s *countSM) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	_, err := fmt.Fscan(r, &s.n)
	return err
}
func (s *countSM) Close() error { return nil }
