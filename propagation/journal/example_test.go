package journal_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

func Example() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(dir, nil) // SyncAlways: Append returns after fsync
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i, path := range []string{"/a", "/b", "/c"} {
		off, err := j.Append(ctx, &semevent.Event{ID: semevent.MakeID(uint64(i+1), 1, 1), Kind: semevent.KindFileWrite, Path: path})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("appended", path, "at offset", off)
	}
	if err := j.Close(context.Background()); err != nil {
		log.Fatal(err)
	}

	// Reopen and replay from offset 1.
	j, err = journal.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close(context.Background())
	r, err := j.NewReader(1)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var ev semevent.Event
	for {
		off, err := r.Next(&ev)
		if err != nil {
			break // io.EOF: caught up
		}
		fmt.Println("replayed", ev.Path, "at offset", off)
	}
	// Output:
	// appended /a at offset 0
	// appended /b at offset 1
	// appended /c at offset 2
	// replayed /b at offset 1
	// replayed /c at offset 2
}

func ExampleJournal_Consume() {
	dir, _ := os.MkdirTemp("", "journal-example")
	defer os.RemoveAll(dir)
	j, _ := journal.Open(dir, nil)
	defer j.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	for _, p := range []string{"/a", "/b"} {
		j.Append(ctx, &semevent.Event{Path: p})
	}
	// A durable consumer: its offset is committed, so after a restart it
	// resumes where it left off.
	j.Consume(ctx, "indexer", func(off uint64, ev *semevent.Event) error {
		fmt.Println(off, ev.Path)
		if off == 1 {
			cancel()
		}
		return nil
	})
	next, _, _ := j.CommittedOffset("indexer")
	fmt.Println("committed", next)
	// Output:
	// 0 /a
	// 1 /b
	// committed 2
}

// Records can carry a few bytes of metadata of the caller's own beside the
// event: here, which batch each record came in.
func ExampleJournal_AppendBatchMeta() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(dir, &journal.Options{MetaSize: 8})
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close(context.Background())
	ctx := context.Background()
	for batch := uint64(1); batch <= 2; batch++ {
		evs := []*semevent.Event{{Kind: semevent.KindFileWrite, Path: "/x"}, {Kind: semevent.KindFileWrite, Path: "/y"}}
		if _, err := j.AppendBatchMeta(ctx, evs, binary.LittleEndian.AppendUint64(nil, batch)); err != nil {
			log.Fatal(err)
		}
	}
	r, err := j.NewReader(0)
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	var ev semevent.Event
	for {
		off, err := r.Next(&ev)
		if err != nil {
			break // io.EOF: caught up
		}
		fmt.Println(off, ev.Path, "batch", binary.LittleEndian.Uint64(r.Meta()))
	}
	_, err = j.AppendBatchMeta(ctx, []*semevent.Event{{Kind: semevent.KindFileWrite, Path: "/z"}}, []byte{1})
	fmt.Println(errors.Is(err, journal.ErrMetaSize))
	// Output:
	// 0 /x batch 1
	// 1 /y batch 1
	// 2 /x batch 2
	// 3 /y batch 2
	// true
}
