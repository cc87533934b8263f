package peerbench

import (
	"testing"
)

func init() {
	replicatedContenders = append([]replicatedContender{
		{"semevent", "coord/raft Append (dragonboat), 3 nodes in process, loopback TCP, Raft log on disk (fsync per batch), default options (1 shard, MaxInflight 4)",
			func(tb testing.TB, dir string) *cluster { return newCoordRaft(tb, dir, nil) }},
	}, replicatedContenders...)
}
