package since_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

func ExampleQuery() {
	dir, _ := os.MkdirTemp("", "since")
	defer os.RemoveAll(dir)
	j, _ := journal.Open(dir, nil)
	defer j.Close(context.Background())
	ctx := context.Background()

	cur := since.Now(j, 0)
	j.AppendBatch(ctx, []*semevent.Event{
		{Kind: semevent.KindFileCreate, Path: "/data/tmp.txt"},
		{Kind: semevent.KindFileDelete, Path: "/data/tmp.txt"},
		{Kind: semevent.KindFileWrite, Path: "/data/a/notes.txt"},
		{Kind: semevent.KindFileWrite, Path: "/data/a/notes.txt"},
		{Kind: semevent.KindFileRename, OldPath: "/data/a", Path: "/data/b"},
		{Kind: semevent.KindFileCreate, Path: "/data/b/new.txt"},
	})
	res, err := since.Query(ctx, j, cur, &since.Options{Glob: "/data/**/*.txt"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range res.Changes {
		if c.Op == since.Renamed {
			fmt.Println(c.Op, c.OldPath, "→", c.Path)
			continue
		}
		fmt.Println(c.Op, c.Path)
	}
	// Output:
	// deleted /data/a
	// renamed /data/a → /data/b
	// created /data/b/new.txt
	// modified /data/b/notes.txt
}
