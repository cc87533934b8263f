package raft_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/raft"
)

// A one-node cluster: the smallest Raft coordinator. A real cluster lists
// three or five members, each running New with its own Node and Dir.
func ExampleNew() {
	dir, _ := os.MkdirTemp("", "raft-example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()

	ctx := context.Background()
	c, err := raft.New(&raft.Options{Node: 1, Dir: dir, Members: map[uint64]string{1: addr}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)

	create := &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"}
	pos, _ := c.Append(ctx, create, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a", Size: 10})
	fmt.Println(pos)
	// A retry with the same ID (Append stamped it) commits nothing new.
	again, _ := c.Append(ctx, create.Clone())
	fmt.Printf("%+v\n", again[0])
	recs, _ := c.Read(ctx, 0, 1, 0)
	for _, r := range recs {
		fmt.Println(r.Index, r.Event.Kind, r.Event.Path)
	}
	fmt.Println("leader:", c.Health(ctx).Shards[0].Leader)
	// Output:
	// [{0 1 false} {0 2 false}]
	// {Shard:0 Index:1 AlreadyCommitted:true}
	// 1 create /a
	// 2 write /a
	// leader: 1
}

// An observer follows a cluster's log and serves reads and subscriptions
// locally without voting: here a one-node cluster and one observer.
func ExampleCoordinator_AddObserver() {
	dir, _ := os.MkdirTemp("", "raft-observer-example")
	defer os.RemoveAll(dir)
	freeAddr := func() string {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		return l.Addr().String()
	}
	addr1, addr2 := freeAddr(), freeAddr()

	ctx := context.Background()
	c, err := raft.New(&raft.Options{Node: 1, Dir: filepath.Join(dir, "1"), Members: map[uint64]string{1: addr1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close(ctx)
	if err := coord.AddObserver(ctx, c, 2, addr2); err != nil { // first on a member...
		fmt.Println(err)
		return
	}
	o, err := raft.New(&raft.Options{Node: 2, Dir: filepath.Join(dir, "2"), Join: true, Observer: true, Addr: addr2}) // ...then start it
	if err != nil {
		fmt.Println(err)
		return
	}
	defer o.Close(ctx)

	c.Append(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"})
	recs, _ := o.Read(ctx, 0, 1, 0) // served by the observer's replica
	for _, r := range recs {
		fmt.Println(r.Index, r.Event.Kind, r.Event.Path)
	}
	// Output:
	// 1 create /a
}
