package codec_test

import (
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

func Example() {
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a.txt", Size: 4096}
	rec := codec.Append(nil, ev)

	var got semevent.Event
	if err := codec.Decode(rec, &got); err != nil {
		panic(err)
	}
	fmt.Println(got.Path, got.Size, semevent.Diff(ev, &got) == nil)
	// Output: /data/a.txt 4096 true
}
