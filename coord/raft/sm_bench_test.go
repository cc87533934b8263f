package raft

import (
	"testing"

	sm "github.com/lni/dragonboat/v4/statemachine"
)

// BenchmarkApply measures the state machine's Update: entries of 100
// events appended to the shard journal (SyncNever, written out at the end
// of each Update), exactly-once window included; and, as the baseline,
// the same entries proposed again (every event already committed: only
// decoding and the window). Reports events/s and allocations per event.
func BenchmarkApply(b *testing.B) {
	const per = 100
	entries := make([]sm.Entry, 64)
	for i := range entries {
		entries[i] = testEntry(uint64(i+1), per)
	}
	open := func(b *testing.B) *shardSM {
		cfg := testSMConfig(b.TempDir(), nil)
		cfg.jopts.SegmentSize, cfg.jopts.MaxRecordSize = 64<<20, 1<<20
		cfg.window = 100_000 // the default: holds every event of the duplicates run
		s := newShardSM(cfg)
		if _, err := s.Open(nil); err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("append", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		all := make([]sm.Entry, b.N)
		for i := range all {
			all[i] = testEntry(uint64(i+1), per)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := s.Update(all[i : i+1]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("duplicates", func(b *testing.B) {
		s := open(b)
		defer s.Close()
		for _, e := range entries {
			if _, err := s.Update([]sm.Entry{e}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			e := entries[i%len(entries)]
			e.Index = uint64(len(entries) + i + 1)
			if _, err := s.Update([]sm.Entry{e}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
		if s.jw.NextOffset() != uint64(len(entries)*per) {
			b.Fatalf("the duplicates appended: journal at %d", s.jw.NextOffset())
		}
	})
}
