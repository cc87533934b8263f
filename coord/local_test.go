package coord_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
)

func TestLocalConformance(t *testing.T) {
	for _, shards := range []int{1, 4} {
		t.Run(map[int]string{1: "OneShard", 4: "FourShards"}[shards], func(t *testing.T) {
			coordtest.TestCoordinator(t, coordtest.Features{Shards: shards, MaxEventSize: 4096}, func(t *testing.T) coord.Coordinator {
				c, err := coord.NewLocal(&coord.Options{Shards: shards, MaxEventSize: 4096})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close(context.Background()) })
				return c
			})
		})
	}
}

func TestLocalFailNext(t *testing.T) {
	ctx := context.Background()
	c, _ := coord.NewLocal(nil)
	defer c.Close(ctx)
	boom := errors.New("boom")
	c.FailNext(boom)
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite}); err != boom {
		t.Fatalf("Append = %v, want the injected error", err)
	}
	if p, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite}); err != nil || p[0].Index != 1 {
		t.Fatalf("Append after the failure = %v, %v, want index 1", p, err)
	}
}

func TestOptionsValidateListsEveryProblem(t *testing.T) {
	err := (&coord.Options{Shards: -1, MaxEventSize: 3}).Validate()
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want *semevent.OptionsError", err)
	}
	for i, field := range []string{"Shards", "MaxEventSize"} {
		if len(oe.Problems) != 2 || oe.Problems[i].Field != field {
			t.Errorf("Validate = %v, does not name %s", err, field)
		}
	}
	if _, err := coord.NewLocal(&coord.Options{Shards: coord.MaxShards + 1}); err == nil {
		t.Error("NewLocal with too many shards succeeded")
	}
	err = (&coord.DetectorOptions{Threshold: -1, Window: -2, MinStdDev: -1, Pause: -1, FirstInterval: -1}).Validate()
	if !errors.As(err, &oe) || len(oe.Problems) != 5 {
		t.Errorf("DetectorOptions.Validate = %v, want 5 problems", err)
	}
}

func TestShardOfIsStable(t *testing.T) {
	// semevent.Key.Hash is the same in every process and on every machine,
	// so shard placement is too.
	k := semevent.PathKey(&semevent.Event{Tenant: "t", Path: "/p"})
	if got, want := coord.ShardOf(k, 1000), int(k.Hash()%1000); got != want {
		t.Errorf("ShardOf(%v, 1000) = %d, want %d", k, got, want)
	}
	if got := coord.ShardOf(k, 1); got != 0 {
		t.Errorf("ShardOf(%v, 1) = %d, want 0", k, got)
	}
	other := semevent.PathKey(&semevent.Event{Tenant: "u", Path: "/p"})
	spread := map[int]bool{}
	for i := range 64 {
		spread[coord.ShardOf(semevent.Key{Tenant: "t", S: fmt.Sprint("/p", i)}, 8)] = true
	}
	if len(spread) < 6 || k == other {
		t.Errorf("64 paths spread over %d of 8 shards", len(spread))
	}
}
