package raft

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// runTwoOfThree starts nodes 1 and 2 of a three-member cluster with
// shards shards (node 3 never runs) and returns every node's Options and
// the two running nodes.
func runTwoOfThree(t *testing.T, shards int) ([]Options, []*Coordinator) {
	t.Helper()
	dir := t.TempDir()
	members := make(map[uint64]string)
	for id := uint64(1); id <= 3; id++ {
		members[id] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	opts := make([]Options, 3)
	for i := range opts {
		opts[i] = Options{Node: uint64(i + 1), Dir: filepath.Join(dir, fmt.Sprint("node", i+1)), Members: members, Shards: shards}
	}
	nodes := make([]*Coordinator, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { nodes[i], errs[i] = New(&opts[i]) })
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range nodes {
			if c != nil {
				c.Close(context.Background())
			}
		}
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start node %d: %v", i+1, err)
		}
	}
	return opts, nodes
}

// Issue 13 (Bad input): a node started fresh with another shard count or
// another member list than the running cluster's must get ErrMembership
// from New. Before, a node with fewer shards started and ran on a subset
// of the cluster's shards, and one with more shards, an extra member or
// another address of its own waited StartTimeout and failed with
// ErrNoQuorum. The running members' heartbeats carry a fingerprint of
// their shard count and members; the fresh node compares it with its
// Options.
func TestFreshNodeWithOtherConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tweak func(o *Options, spare string)
	}{
		{"fewer shards", func(o *Options, _ string) { o.Shards = 1 }},
		{"more shards", func(o *Options, _ string) { o.Shards = 3 }},
		{"extra member", func(o *Options, spare string) { o.Members = maps.Clone(o.Members); o.Members[4] = spare }},
		{"other address", func(o *Options, spare string) { o.Members = maps.Clone(o.Members); o.Members[3] = spare }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, _ := runTwoOfThree(t, 2)
			o := opts[2]
			tc.tweak(&o, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
			c, err := New(&o)
			if err == nil {
				c.Close(context.Background())
				t.Fatal("New succeeded, want ErrMembership")
			}
			if !errors.Is(err, coord.ErrMembership) || errors.Is(err, coord.ErrNoQuorum) {
				t.Fatalf("New = %v, want ErrMembership (not ErrNoQuorum)", err)
			}
			t.Logf("New = %v", err)
			var ne *coord.NodeError
			if !errors.As(err, &ne) || ne.Node != 3 {
				t.Fatalf("New = %v, want a *coord.NodeError for node 3", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "runs 2 shards with 3 members") || !strings.Contains(msg, fmt.Sprintf("Shards %d", o.Shards)) {
				t.Fatalf("New = %v, want it to say the cluster runs 2 shards with 3 members and this node was started with Shards %d", err, o.Shards)
			}
		})
	}
}

// A fresh node started late with the cluster's own Options starts, and
// only after a member's beat agreed with them; it commits with the others.
func TestFreshNodeLateWithSameConfig(t *testing.T) {
	opts, _ := runTwoOfThree(t, 2)
	c, err := New(&opts[2])
	if err != nil {
		t.Fatalf("New for node 3 = %v", err)
	}
	defer c.Close(context.Background())
	if !c.hb.heard.Load() {
		t.Fatal("node 3 started without hearing a member's beat agree with its Options")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/late"}); err != nil {
		t.Fatalf("Append through node 3 = %v", err)
	}
}

// Found while building the test above: a node started on another address
// than the members know it by made them panic (dragonboat's registry:
// "inconsistent target") as soon as its first Raft message arrived, so a
// misconfigured node crashed the running cluster. Its heartbeats are off
// here, so that it keeps sending Raft messages until its StartTimeout:
// the members drop them (Stats.PeersRefused), keep running and commit.
func TestPeerOnOtherAddressDropped(t *testing.T) {
	opts, nodes := runTwoOfThree(t, 1)
	o := opts[2]
	o.Members = maps.Clone(o.Members)
	o.Members[3] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	o.Heartbeat, o.StartTimeout = -1, 3*time.Second
	if c, err := New(&o); err == nil {
		c.Close(context.Background())
		t.Fatal("node 3 on another address started")
	}
	refused := nodes[0].Stats().PeersRefused + nodes[1].Stats().PeersRefused
	if refused == 0 {
		t.Fatal("PeersRefused = 0 on nodes 1 and 2: node 3's messages were not refused (did it send any?)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, c := range nodes {
		if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprint("/after/", i)}); err != nil {
			t.Fatalf("Append through node %d after node 3's messages = %v", i+1, err)
		}
	}
	t.Logf("nodes 1 and 2 refused %d batches from node 3", refused)
}

// FuzzParseBeat: any datagram parses or is refused, never panics; a beat
// that parses encodes back to a datagram that parses the same.
func FuzzParseBeat(f *testing.F) {
	f.Add(beat{deployment: 7, node: 1, v1: true}.append(nil))
	f.Add(beat{deployment: 7, node: 2, ready: true, shards: 2, voters: 3, fingerprint: fingerprint(2, map[uint64]string{1: "a", 2: "b", 3: "c"})}.append(nil))
	f.Add([]byte("SEhb"))
	f.Add([]byte("XXhb0123456789abcdef"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bt, ok := parseBeat(b)
		if !ok {
			return
		}
		again, ok := parseBeat(bt.append(nil))
		if !ok || again != bt {
			t.Fatalf("beat %+v encodes to %x, which parses as %+v, %v", bt, bt.append(nil), again, ok)
		}
	})
}
