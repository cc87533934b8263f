package since_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

// BenchmarkQuery measures a query over 100,000 journaled events touching
// 10,000 files in 100 directories (writes, creates, deletes, renames of
// files and of directories), with and without a glob. Each iteration is a
// whole query; events/s = 100,000 / (ns/op).
func BenchmarkQuery(b *testing.B) {
	const events = 100_000
	ctx := context.Background()
	j, err := journal.Open(b.TempDir(), &journal.Options{Sync: journal.SyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close(ctx)
	cur := since.Now(j, 0)
	r := rand.New(rand.NewPCG(1, 2))
	batch := make([]*semevent.Event, 0, 1000)
	for i := range events {
		d, f := r.IntN(100), r.IntN(100)
		p := fmt.Sprintf("/data/d%d/f%d.txt", d, f)
		ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: p}
		switch r.IntN(20) {
		case 0:
			ev.Kind = semevent.KindFileCreate
		case 1:
			ev.Kind = semevent.KindFileDelete
		case 2:
			ev.Kind, ev.OldPath, ev.Path = semevent.KindFileRename, p, fmt.Sprintf("/data/d%d/f%d.txt", r.IntN(100), r.IntN(100))
		case 3:
			ev.Kind, ev.OldPath, ev.Path = semevent.KindFileRename, fmt.Sprintf("/data/d%d", d), fmt.Sprintf("/data/d%d", r.IntN(100))
		}
		batch = append(batch, ev)
		if len(batch) == cap(batch) || i == events-1 {
			if _, err := j.AppendBatch(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := j.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	for _, g := range []string{"", "/data/d7/**"} {
		b.Run(fmt.Sprintf("glob=%q", g), func(b *testing.B) {
			var changes int
			for b.Loop() {
				res, err := since.Query(ctx, j, cur, &since.Options{Glob: g})
				if err != nil || res.Records != events {
					b.Fatal(err, res.Records)
				}
				changes = len(res.Changes)
			}
			b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(changes), "changes")
		})
	}
}
