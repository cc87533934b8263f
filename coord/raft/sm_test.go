package raft

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent/coord"
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

// Found by TestProcessLeaderKills (porcupine: "not linearizable", once in
// about twenty runs): the state machine appends an entry's events record
// by record, and a full write buffer makes some readable before the
// rest, so a Read could return part of an atomic append. A read returns
// the entries applied when it starts, whole.
func TestReadNeverSplitsAnEntry(t *testing.T) {
	s := openTestSM(t, t.TempDir(), nil)
	defer s.Close()
	update(t, s, testEntry(1, 10))
	var mid []coord.Record
	s.afterRecord = func(k int) {
		if k == 2 {
			if err := s.jw.Flush(context.Background()); err != nil { // as a full buffer would
				t.Fatal(err)
			}
			var err error
			if mid, err = s.read(0, 1, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	update(t, s, testEntry(2, 5))
	if len(mid) != 10 {
		t.Fatalf("a read while entry 2 was half applied returned %d records, want entry 1's 10", len(mid))
	}
	s.afterRecord = nil
	if recs, err := s.read(0, 1, 0); err != nil || len(recs) != 15 {
		t.Fatalf("read after entry 2 = %d records, %v; want 15", len(recs), err)
	}
}
