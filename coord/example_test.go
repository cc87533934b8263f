package coord_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

func ExampleLocal() {
	ctx := context.Background()
	c, _ := coord.NewLocal(nil)
	defer c.Close(ctx)

	pos, _ := c.Append(ctx,
		&semevent.Event{Kind: semevent.KindFileCreate, Path: "/data/a"},
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a", Size: 42},
	)
	fmt.Println(pos)

	recs, _ := c.Read(ctx, 0, 1, 10)
	for _, r := range recs {
		fmt.Println(r.Index, r.Event.Kind, r.Event.Path)
	}
	// Output:
	// [{0 1 false} {0 2 false}]
	// 1 create /data/a
	// 2 write /data/a
}

func ExampleLocal_FailNext() {
	ctx := context.Background()
	c, _ := coord.NewLocal(nil)
	defer c.Close(ctx)
	c.FailNext(fmt.Errorf("no quorum: %w", coord.ErrNoQuorum))
	_, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/x"})
	fmt.Println(err)
	// Output:
	// no quorum: coord: no quorum
}

func ExampleStore_Sync() {
	ctx := context.Background()
	here, there := coord.NewStore[*coord.PNCounter](), coord.NewStore[*coord.PNCounter]()
	add := func(s *coord.Store[*coord.PNCounter], key string, node uint64, d int64) {
		s.Update(key, func(c *coord.PNCounter, ok bool) *coord.PNCounter {
			if !ok {
				c = coord.NewPNCounter()
			}
			c.Add(node, d)
			return c
		})
	}
	add(here, "quota/acme", 1, 5)
	add(there, "quota/acme", 2, -2)
	add(there, "quota/zeta", 2, 7)

	st, _ := here.Sync(ctx, there)
	a, _ := here.Get("quota/acme")
	z, _ := there.Get("quota/zeta")
	fmt.Println("keys exchanged:", st.KeysDiffered, "acme:", a.Value(), "zeta:", z.Value())
	fmt.Println("converged:", here.Root() == there.Root())
	// Output:
	// keys exchanged: 2 acme: 3 zeta: 7
	// converged: true
}

func ExampleVectorClock() {
	a := coord.VectorClock{}.Tick(1)
	b := a.Clone().Tick(2)
	c := a.Clone().Tick(1)
	fmt.Println(a.Compare(b), b.Compare(c))
	// Output:
	// before concurrent
}

// A batch that must commit all or none: AppendAtomic commits it in one
// proposal, contiguous and in order, and refuses one whose events would
// land in different shards.
func ExampleAppendAtomic() {
	ctx := context.Background()
	c, _ := coord.NewLocal(&coord.Options{Shards: 8})
	defer c.Close(ctx)

	batch := []*semevent.Event{
		{Kind: semevent.KindFileCreate, Path: "/orders/42"},
		{Kind: semevent.KindFileWrite, Path: "/orders/42", Size: 128},
		{Kind: semevent.KindFileClose, Path: "/orders/42"},
	}
	pos, err := coord.AppendAtomic(ctx, c, batch...)
	fmt.Println(err, pos[1].Index-pos[0].Index, pos[2].Index-pos[1].Index)

	_, err = coord.AppendAtomic(ctx, c,
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/orders/42"},
		&semevent.Event{Kind: semevent.KindFileWrite, Path: "/orders/44"})
	var cs *coord.CrossShardError
	fmt.Println(errors.As(err, &cs), errors.Is(err, coord.ErrCrossShard))
	// Output:
	// <nil> 1 1
	// true true
}

// A client whose Append ended without an answer retries with the same
// event (same ID): the coordinator commits it once and says where.
func ExamplePosition_alreadyCommitted() {
	ctx := context.Background()
	c, _ := coord.NewLocal(nil)
	defer c.Close(ctx)

	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a"}
	first, _ := c.Append(ctx, ev) // Append stamps ev's ID
	retry, _ := c.Append(ctx, ev.Clone())
	fmt.Printf("%+v\n%+v\n", first[0], retry[0])
	// Output:
	// {Shard:0 Index:1 AlreadyCommitted:false}
	// {Shard:0 Index:1 AlreadyCommitted:true}
}

// A durable consumer commits the index after the last record it handled,
// and resumes from there.
func ExampleCommitOffset() {
	ctx := context.Background()
	c, _ := coord.NewLocal(nil)
	defer c.Close(ctx)
	c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"}, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/b"})

	recs, _ := c.Read(ctx, 0, 1, 0)
	coord.CommitOffset(c, 0, "indexer", recs[len(recs)-1].Index+1)

	next, ok, _ := coord.CommittedOffset(c, 0, "indexer")
	fmt.Println(next, ok)
	// Output:
	// 3 true
}
