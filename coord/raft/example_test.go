package raft_test

import (
	"context"
	"fmt"
	"net"
	"os"

	"github.com/vexfs/semevent"
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

	pos, _ := c.Append(ctx,
		&semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"},
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/a", Size: 10},
	)
	fmt.Println(pos)
	recs, _ := c.Read(ctx, 0, 1, 0)
	for _, r := range recs {
		fmt.Println(r.Index, r.Event.Kind, r.Event.Path)
	}
	fmt.Println("leader:", c.Health(ctx).Shards[0].Leader)
	// Output:
	// [{0 1} {0 2}]
	// 1 create /a
	// 2 write /a
	// leader: 1
}
