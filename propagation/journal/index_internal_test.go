package journal

import (
	"context"
	"io"
	"testing"

	"github.com/vexfs/semevent"
)

func TestSparseIndex(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir, &Options{Sync: SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]*semevent.Event, 3000)
	for i := range evs {
		evs[i] = &semevent.Event{ID: semevent.MakeID(uint64(i+1), 1, 1), Path: "/p"}
	}
	if _, err := j.AppendBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	check := func(who string) {
		t.Helper()
		for _, tc := range []struct{ from, off uint64 }{{0, 0}, {1023, 0}, {1024, 1024}, {2049, 2048}, {2999, 2048}} {
			off, pos := j.segmentFrom(tc.from).seek(tc.from)
			if off != tc.off || (off > 0) != (pos > int64(len(j.segs[0].hdr))) {
				t.Errorf("%s: seek(%d) = %d, %d; want offset %d", who, tc.from, off, pos, tc.off)
			}
			r, err := j.NewReader(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			var ev semevent.Event
			got, err := r.Next(&ev)
			if err != nil || got != tc.from || ev.ID != evs[tc.from].ID {
				t.Errorf("%s: from %d: Next = %d, %v, event %s", who, tc.from, got, err, ev.ID)
			}
			r.Close()
		}
	}
	if err := j.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("index built by the writer")
	if err := j.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	j, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	if off, _ := j.segmentFrom(2049).seek(2049); off != 0 {
		t.Fatalf("reopened: seek before any read = %d, want 0", off)
	}
	r, _ := j.NewReader(0)
	for {
		var ev semevent.Event
		if _, err := r.Next(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	check("index built by a reader")
}
