// Command journal is a tour of the durable semantic journal
// (propagation/journal): it appends events, closes the journal, reopens it
// as after a restart, replays from an offset, resumes a durable consumer,
// and prints a summary of what is on disk.
//
//	go run ./examples/journal            # in a temporary directory
//	go run ./examples/journal -dir /tmp/j -n 5000 -from 4990
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

func main() {
	dir := flag.String("dir", "", "journal directory (default: a new temporary directory, removed at exit)")
	n := flag.Int("n", 1000, "events to append")
	from := flag.Uint64("from", 990, "offset to replay from")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "semevent-journal")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	if err := run(os.Stdout, *dir, *n, *from); err != nil {
		log.Fatal(err)
	}
}

// run does the tour in dir, printing to w.
func run(w io.Writer, dir string, n int, from uint64) error {
	ctx := context.Background()
	opts := &journal.Options{SegmentSize: 64 << 10} // small segments, to show rollover
	ids := semevent.NewIDGenerator(1)

	// 1. Append events in batches; each batch returns after one fsync.
	j, err := journal.Open(dir, opts)
	if err != nil {
		return err
	}
	start := j.NextOffset()
	batch := make([]*semevent.Event, 0, 100)
	for i := range n {
		batch = append(batch, &semevent.Event{
			ID:       ids.Next(),
			Kind:     semevent.KindFileWrite,
			Boundary: semevent.FUSE,
			Path:     fmt.Sprintf("/data/file-%03d.txt", i%100),
			Size:     4096,
			Time:     semevent.Now(),
			Attrs:    []semevent.Attr{{Key: "seq", Value: fmt.Sprint(i)}},
		})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := j.AppendBatch(ctx, batch); err != nil {
				j.Close(context.Background())
				return err
			}
			batch = batch[:0]
		}
	}
	fmt.Fprintf(w, "appended %d events at offsets %d..%d\n", n, start, j.NextOffset()-1)
	if err := j.Close(context.Background()); err != nil {
		return err
	}
	st := j.Stats()
	fmt.Fprintf(w, "  in %d group writes, %d fsyncs, %d segments created\n", st.Flushes, st.Fsyncs, st.Segments)

	// 2. Reopen, as a restarted process would.
	j, err = journal.Open(dir, opts)
	if err != nil {
		return err
	}
	defer j.Close(context.Background())
	if rec := j.Recovery(); rec != nil {
		fmt.Fprintln(w, "recovered:", rec)
	} else {
		fmt.Fprintln(w, "reopened cleanly: no torn tail")
	}

	// 3. Replay from an offset.
	r, err := j.NewReader(from)
	if err != nil {
		return err
	}
	defer r.Close()
	var ev semevent.Event
	replayed := 0
	var first, last string
	for {
		off, err := r.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		seq, _ := ev.Attr("seq")
		if replayed == 0 {
			first = fmt.Sprintf("offset %d %s seq=%s", off, ev.Path, seq)
		}
		last = fmt.Sprintf("offset %d %s seq=%s", off, ev.Path, seq)
		replayed++
	}
	fmt.Fprintf(w, "replayed %d events from offset %d: first %s, last %s\n", replayed, from, first, last)

	// 4. A durable consumer: handles the rest and commits its offset.
	cctx, cancel := context.WithCancel(ctx)
	handled := 0
	end := j.NextOffset()
	err = j.Consume(cctx, "summary", func(off uint64, _ *semevent.Event) error {
		handled++
		if off+1 == end {
			cancel()
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	next, _, err := j.CommittedOffset("summary")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "consumer %q handled %d events, resumes at offset %d\n", "summary", handled, next)

	// 5. What is on disk.
	var bytes int64
	segs := j.Segments()
	for _, s := range segs {
		bytes += s.Size
	}
	fmt.Fprintf(w, "on disk: %d segments, %d bytes, offsets %d..%d\n", len(segs), bytes, j.FirstOffset(), j.NextOffset()-1)
	for _, s := range segs {
		fmt.Fprintf(w, "  %s  offsets %d..%d  %d bytes\n", s.Name, s.First, s.End-1, s.Size)
	}
	return nil
}
