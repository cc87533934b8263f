package raft

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent/propagation/journal"
)

// openTestSM opens a shard state machine on dir, as dragonboat would, with
// the journal on fsys (nil: the OS).
func openTestSM(t testing.TB, dir string, fsys journal.FS) *shardSM {
	t.Helper()
	s := newShardSM(testSMConfig(dir, fsys))
	if _, err := s.Open(nil); err != nil {
		t.Fatal(err)
	}
	return s
}

func testSMConfig(dir string, fsys journal.FS) smConfig {
	if fsys == nil {
		fsys = journal.OSFS()
	}
	return smConfig{
		dir:    filepath.Join(dir, "shards", "0"),
		id:     identity{deployment: 1, shard: 0, shards: 1, node: 1},
		window: 1000,
		log:    slog.New(slog.DiscardHandler),
		jopts: journal.Options{FS: fsys, Logger: slog.New(slog.DiscardHandler), Sync: journal.SyncNever,
			MetaSize: metaSize, SegmentSize: 4096, MaxRecordSize: 4096},
	}
}
