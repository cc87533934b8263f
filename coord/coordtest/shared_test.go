package coordtest_test

import (
	"context"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
)

// TestSharedConformance: every node view of a Shared passes the
// Coordinator suite.
func TestSharedConformance(t *testing.T) {
	coordtest.TestCoordinator(t, coordtest.Features{Shards: 4, MaxEventSize: 4096, NoClose: true}, func(t *testing.T) coord.Coordinator {
		l, err := coord.NewLocal(&coord.Options{Shards: 4, MaxEventSize: 4096})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close(context.Background()) })
		return coordtest.NewShared(l).Node(2)
	})
}

// TestSharedOrigins: each node's appends carry its id as Origin whichever
// node reads them; Health names the reader; offsets are per node.
func TestSharedOrigins(t *testing.T) {
	ctx := context.Background()
	l, _ := coord.NewLocal(nil)
	defer l.Close(ctx)
	sh := coordtest.NewShared(l)
	n1, n2 := sh.Node(1), sh.Node(2)
	if _, err := n1.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := n2.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/b"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*coordtest.SharedNode{n1, n2} {
		recs, err := n.Read(ctx, 0, 1, 0)
		if err != nil || len(recs) != 2 || recs[0].Origin != 1 || recs[1].Origin != 2 {
			t.Fatalf("Read = %+v, %v; want /a from node 1 and /b from node 2", recs, err)
		}
	}
	if h := n2.Health(ctx); h.Node != 2 {
		t.Errorf("Health().Node = %d, want 2", h.Node)
	}
	n1.CommitOffset(0, "c", 2)
	if _, ok, _ := n2.CommittedOffset(0, "c"); ok {
		t.Error("node 2 sees node 1's consumer offset")
	}
	if next, ok, _ := sh.Node(1).CommittedOffset(0, "c"); !ok || next != 2 {
		t.Errorf("node 1 (a new view) CommittedOffset = %d, %v; want 2, true", next, ok)
	}
}
