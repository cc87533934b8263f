package cep_test

import (
	"context"
	"fmt"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
)

func ExampleNew() {
	pub := &automationtest.Publisher{}
	c, err := cep.New([]cep.Pattern{
		&cep.Sequence{
			Name: "create-write-close",
			Stages: []cep.Stage{
				{Kind: semevent.KindFileCreate},
				{Kind: semevent.KindFileWrite, When: `Size > 0`},
				{Kind: semevent.KindFileClose},
			},
			Within: time.Second,
		},
		&cep.Absence{
			Name:   "never-closed",
			First:  cep.Stage{Kind: semevent.KindFileOpen},
			Then:   cep.Stage{Kind: semevent.KindFileClose},
			Within: time.Minute,
		},
	}, &cep.Options{Publisher: pub})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	ms := int64(time.Millisecond)
	for i, ev := range []semevent.Event{
		{Kind: semevent.KindFileCreate, Path: "/a", Time: 0},
		{Kind: semevent.KindFileOpen, Path: "/b", Time: 1 * ms},
		{Kind: semevent.KindFileWrite, Path: "/a", Size: 10, Time: 2 * ms},
		{Kind: semevent.KindFileRead, Path: "/a", Time: 3 * ms}, // skipped: followed-by
		{Kind: semevent.KindFileClose, Path: "/a", Time: 4 * ms},
	} {
		ev.ID = semevent.MakeID(uint64(i+1), 0, 0)
		_ = c.Handle(ctx, &ev)
	}
	_ = c.Advance(ctx, int64(2*time.Minute)) // /b was never closed
	for _, m := range pub.Events() {
		name, _ := m.Attr(cep.AttrPattern)
		ids, _ := cep.CausingIDs(m)
		var seq []uint64
		for _, id := range ids {
			seq = append(seq, id.Nanos())
		}
		fmt.Println(name, m.Path, seq)
	}
	// Output:
	// create-write-close /a [1 3 5]
	// never-closed /b [2]
}
