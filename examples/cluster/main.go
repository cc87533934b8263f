// Command cluster runs a three-node semevent cluster on 127.0.0.1 in one
// process: events appended on one node are seen by all three in the same
// order; then the leader is killed and the two others go on; then the
// killed node restarts from its own disk and catches up.
//
//	go run ./examples/cluster           # in a temporary directory
//	go run ./examples/cluster -n 5000 -dir /tmp/cluster
//
// Each node is a coord/raft Coordinator; in a real deployment each runs in
// its own process on its own machine with the same Members map (and
// Options.TLS for mutual TLS between them).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/raft"
)

func main() {
	dir := flag.String("dir", "", "data directory (default: a new temporary directory, removed at exit)")
	n := flag.Int("n", 1000, "events to append in each phase")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "semevent-cluster")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := run(os.Stdout, *dir, *n); err != nil {
		log.Fatal(err)
	}
}

// node is one member and what its subscriber has seen.
type node struct {
	opts raft.Options
	c    *raft.Coordinator
	sub  coord.Subscription

	mu   sync.Mutex // guards seen
	seen []string   // paths, in commit order
}

func (nd *node) start() error {
	c, err := raft.New(&nd.opts)
	if err != nil {
		return err
	}
	nd.c = c
	nd.mu.Lock()
	nd.seen = nil
	nd.mu.Unlock()
	// Follow shard 0 from the beginning: a restarted node replays its
	// log from disk, then follows the cluster.
	nd.sub, err = c.Subscribe(0, 1, coord.HandlerFunc(func(ctx context.Context, r coord.Record) error {
		nd.mu.Lock()
		nd.seen = append(nd.seen, r.Event.Path)
		nd.mu.Unlock()
		return nil
	}))
	return err
}

func (nd *node) seenCopy() []string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return slices.Clone(nd.seen)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func run(w io.Writer, dir string, n int) error {
	ctx := context.Background()
	members := make(map[uint64]string)
	for id := uint64(1); id <= 3; id++ {
		a, err := freeAddr()
		if err != nil {
			return err
		}
		members[id] = a
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = &node{opts: raft.Options{Node: uint64(i + 1), Dir: filepath.Join(dir, fmt.Sprint("node", i+1)), Members: members}}
	}
	defer func() {
		for _, nd := range nodes {
			if nd.c != nil {
				nd.c.Close(ctx)
			}
		}
	}()
	// Every node waits for a quorum in New, so start them together.
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, nd := range nodes {
		wg.Go(func() { errs[i] = nd.start() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(w, "started 3 nodes on %s, %s, %s\n", members[1], members[2], members[3])

	appendN := func(c *raft.Coordinator, phase string) error {
		const batch = 100
		for i := 0; i < n; i += batch {
			evs := make([]*semevent.Event, 0, batch)
			for j := i; j < min(i+batch, n); j++ {
				// One path per phase keeps every event on shard 0.
				evs = append(evs, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/cluster/" + phase, Offset: int64(j)})
			}
			if _, err := c.Append(ctx, evs...); err != nil {
				return err
			}
		}
		return nil
	}
	waitAll := func(live []*node, want int) ([]string, error) {
		deadline := time.Now().Add(time.Minute)
		for {
			ok := true
			for _, nd := range live {
				if len(nd.seenCopy()) < want {
					ok = false
				}
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("nodes did not see %d events within a minute", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
		ref := live[0].seenCopy()
		for _, nd := range live[1:] {
			if !slices.Equal(nd.seenCopy(), ref) {
				return nil, fmt.Errorf("node %d saw a different order than node %d", nd.opts.Node, live[0].opts.Node)
			}
		}
		return ref, nil
	}

	if err := appendN(nodes[0].c, "a"); err != nil {
		return err
	}
	if _, err := waitAll(nodes, n); err != nil {
		return err
	}
	fmt.Fprintf(w, "appended %d events on node 1: all 3 nodes saw them in the same order\n", n)

	h := nodes[0].c.Health(ctx)
	leader := int(h.Shards[0].Leader) - 1
	if err := nodes[leader].c.Close(ctx); err != nil {
		return err
	}
	fmt.Fprintf(w, "killed the leader (node %d)\n", leader+1)
	var live []*node
	for i, nd := range nodes {
		if i != leader {
			live = append(live, nd)
		}
	}
	if err := appendN(live[0].c, "b"); err != nil {
		return err
	}
	if _, err := waitAll(live, 2*n); err != nil {
		return err
	}
	h = live[0].c.Health(ctx)
	fmt.Fprintf(w, "appended %d more on node %d: the 2 live nodes saw all %d in the same order (new leader node %d)\n",
		n, live[0].opts.Node, 2*n, h.Shards[0].Leader)

	if err := nodes[leader].start(); err != nil {
		return err
	}
	if _, err := waitAll(nodes, 2*n); err != nil {
		return err
	}
	fmt.Fprintf(w, "restarted node %d from its disk: it caught up, all 3 nodes hold the same %d events\n", leader+1, 2*n)
	return nil
}
