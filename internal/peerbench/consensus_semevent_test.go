package peerbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	coordraft "github.com/vexfs/semevent/coord/raft"
)

func init() {
	consensusContenders = append([]consensusContender{
		{"semevent", "coord/raft (dragonboat), loopback TCP, Raft log on disk (fsync per batch), default options", func(tb testing.TB) *cluster { return newCoordRaft(tb, "", nil) }},
		{"semevent-tmpfs", "the same with the node directories on tmpfs (/dev/shm): fsync costs nothing, like an in-memory store", func(tb testing.TB) *cluster { return newCoordRaft(tb, "/dev/shm", nil) }},
	}, consensusContenders...)
}

// freePort returns a port free for both TCP (Raft) and UDP (coord/raft's
// heartbeats) on 127.0.0.1.
func freePort(tb testing.TB) int {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatal("no free port")
	return 0
}

// newCoordRaft starts a 3-node coord/raft cluster with its directories
// under base (os.TempDir() when empty) and appends through the leader.
// tweak, when not nil, changes each node's options.
func newCoordRaft(tb testing.TB, base string, tweak func(*coordraft.Options)) *cluster {
	_, leader, closeAll := startCoordRaft(tb, base, tweak)
	return &cluster{
		append: func(ctx context.Context, ev *semevent.Event) error {
			_, err := leader.Append(ctx, ev)
			return err
		},
		committed: func(ctx context.Context) (int, error) { return countRecords(ctx, leader) },
		close:     closeAll,
	}
}

// countRecords counts the records of every shard, reading through c.
func countRecords(ctx context.Context, c *coordraft.Coordinator) (int, error) {
	n := 0
	for s := range c.Health(ctx).Shards {
		for from := uint64(1); ; {
			recs, err := c.Read(ctx, s, from, 4096)
			if err != nil {
				return n, err
			}
			if len(recs) == 0 {
				break
			}
			n += len(recs)
			from = recs[len(recs)-1].Index + 1
		}
	}
	return n, nil
}

// startCoordRaft starts the nodes of newCoordRaft and returns them, the
// leader of shard 0 and the function that closes them all.
func startCoordRaft(tb testing.TB, base string, tweak func(*coordraft.Options)) ([]*coordraft.Coordinator, *coordraft.Coordinator, func()) {
	if base != "" {
		if _, err := os.Stat(base); err != nil {
			tb.Skipf("%s: %v", base, err)
		}
	}
	dir, err := os.MkdirTemp(base, "peerbench-coordraft-")
	if err != nil {
		tb.Fatal(err)
	}
	const n = 3
	members := make(map[uint64]string, n)
	for i := range n {
		members[uint64(i+1)] = fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	}
	nodes := make([]*coordraft.Coordinator, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		o := &coordraft.Options{
			Node:    uint64(i + 1),
			Dir:     filepath.Join(dir, fmt.Sprint("node", i+1)),
			Members: members,
		}
		if tweak != nil {
			tweak(o)
		}
		wg.Go(func() { nodes[i], errs[i] = coordraft.New(o) })
	}
	wg.Wait()
	closeAll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, c := range nodes {
			if c != nil {
				c.Close(ctx)
			}
		}
		os.RemoveAll(dir)
	}
	for i, err := range errs {
		if err != nil {
			closeAll()
			tb.Fatalf("coord/raft node %d: %v", i+1, err)
		}
	}
	var leader *coordraft.Coordinator
	for deadline := time.Now().Add(30 * time.Second); leader == nil; {
		if id := nodes[0].Health(context.Background()).Shards[0].Leader; id >= 1 && id <= n {
			leader = nodes[id-1]
			break
		}
		if time.Now().After(deadline) {
			closeAll()
			tb.Fatal("coord/raft: no leader after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nodes, leader, closeAll
}

var _ coord.Coordinator = (*coordraft.Coordinator)(nil)
