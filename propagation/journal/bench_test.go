package journal_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// benchEvent is a small event with a 64-byte payload.
func benchEvent(i int) *semevent.Event {
	return &semevent.Event{
		ID:       semevent.MakeID(uint64(i+1), 1, 1),
		Kind:     semevent.KindFileWrite,
		Boundary: semevent.FUSE,
		Path:     "/data/bench/file.txt",
		Size:     64,
		Time:     int64(i),
		Data:     make([]byte, 64),
	}
}

func reportRate(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkJournalAppend appends batches under SyncInterval; the meta24
// variants give every record 24 bytes of metadata with AppendBatchMeta, as
// coord/raft does, against the same batches without ("meta0").
func BenchmarkJournalAppend(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
		meta  int
	}{{"single", 1, 0}, {"batch16", 16, 0}, {"batch256", 256, 0}, {"single/meta24", 1, 24}, {"batch16/meta24", 16, 24}, {"batch256/meta24", 256, 24}} {
		b.Run(bc.name+"/SyncInterval", func(b *testing.B) {
			j, err := journal.Open(b.TempDir(), &journal.Options{Sync: journal.SyncInterval(10 * time.Millisecond), MetaSize: bc.meta})
			if err != nil {
				b.Fatal(err)
			}
			batch := make([]*semevent.Event, bc.batch)
			for i := range batch {
				batch[i] = benchEvent(i)
			}
			ctx := context.Background()
			meta := make([]byte, bc.meta)
			n := 0
			b.ResetTimer()
			for b.Loop() {
				if _, err := j.AppendBatchMeta(ctx, batch, meta); err != nil {
					b.Fatal(err)
				}
				n += len(batch)
			}
			if err := j.Close(context.Background()); err != nil { // the final write and fsync count
				b.Fatal(err)
			}
			reportRate(b, n)
		})
	}
}

// BenchmarkJournalReplay reads 200k records of 64-byte payload events from
// the start, through Reader.Next into one reused event. With "same-path"
// every event has the same path, which decoding reuses without allocating;
// with "distinct-paths" every path is new and allocates.
// "same-path/meta24" reads records carrying 24 bytes of metadata each,
// and Reader.Meta for each.
func BenchmarkJournalReplay(b *testing.B) {
	for _, distinct := range []bool{false, true} {
		name := "same-path"
		if distinct {
			name = "distinct-paths"
		}
		b.Run(name, func(b *testing.B) { benchReplay(b, distinct, 0) })
	}
	b.Run("same-path/meta24", func(b *testing.B) { benchReplay(b, false, 24) })
}

func benchReplay(b *testing.B, distinct bool, meta int) {
	dir := b.TempDir()
	j, err := journal.Open(dir, &journal.Options{Sync: journal.SyncNever, MetaSize: meta})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close(context.Background())
	const n = 200_000
	batch := make([]*semevent.Event, 1000)
	for k := range n / len(batch) {
		for i := range batch {
			batch[i] = benchEvent(i)
			if distinct {
				batch[i].Path = fmt.Sprintf("/data/bench/file-%06d.txt", k*len(batch)+i)
			}
		}
		if _, err := j.AppendBatchMeta(context.Background(), batch, make([]byte, meta)); err != nil {
			b.Fatal(err)
		}
	}
	if err := j.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	var ev semevent.Event
	read := 0
	b.ResetTimer()
	for b.Loop() {
		r, err := j.NewReader(0)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := r.Next(&ev); err != nil {
				break
			}
			if len(r.Meta()) != meta {
				b.Fatalf("meta of %d bytes, want %d", len(r.Meta()), meta)
			}
			read++
		}
		r.Close()
	}
	if read%n != 0 {
		b.Fatalf("read %d records, want a multiple of %d", read, n)
	}
	reportRate(b, read)
}

// BenchmarkJournalSyncAlways appends with SyncAlways from 1 and from 16
// goroutines: with 16, appenders share fsyncs (group commit).
func BenchmarkJournalSyncAlways(b *testing.B) {
	for _, appenders := range []int{1, 16} {
		b.Run("appenders="+itoa(appenders), func(b *testing.B) {
			j, err := journal.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			per := max(b.N/appenders, 1)
			b.ResetTimer()
			var wg sync.WaitGroup
			for range appenders {
				wg.Go(func() {
					ev := benchEvent(0)
					for range per {
						if _, err := j.Append(context.Background(), ev); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := j.Stats()
			reportRate(b, per*appenders)
			b.ReportMetric(float64(st.Records)/float64(max(st.Fsyncs, 1)), "events/fsync")
			j.Close(context.Background())
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// BenchmarkJournalSyncAlwaysInterleaved alternates, each round, 32 appends
// from one goroutine with 32 appends from each of 16 goroutines, timing the
// two phases apart. Interleaving exposes both to the same disk conditions,
// so "x16-vs-1" (the ratio of their rates) holds even when fsync latency
// drifts during the run.
func BenchmarkJournalSyncAlwaysInterleaved(b *testing.B) {
	j, err := journal.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close(context.Background())
	const per = 32
	ev := benchEvent(0)
	ctx := context.Background()
	var one, many time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range per {
			if _, err := j.Append(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range per {
					if _, err := j.Append(ctx, ev); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		one += t1.Sub(t0)
		many += time.Since(t1)
	}
	r1 := float64(b.N*per) / one.Seconds()
	r16 := float64(b.N*per*16) / many.Seconds()
	b.ReportMetric(r1, "events/s-1")
	b.ReportMetric(r16, "events/s-16")
	b.ReportMetric(r16/r1, "x16-vs-1")
}
