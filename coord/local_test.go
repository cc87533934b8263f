package coord_test

import (
	"context"
	"errors"
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
	var oe *coord.OptionError
	if !errors.As(err, &oe) {
		t.Fatalf("Validate = %v, want *OptionError", err)
	}
	for _, field := range []string{"Shards", "MaxEventSize"} {
		if !containsField(err, field) {
			t.Errorf("Validate = %v, does not name %s", err, field)
		}
	}
	if _, err := coord.NewLocal(&coord.Options{Shards: coord.MaxShards + 1}); err == nil {
		t.Error("NewLocal with too many shards succeeded")
	}
	if err := (&coord.DetectorOptions{Threshold: -1, Window: -2, MinStdDev: -1, Pause: -1, FirstInterval: -1}).Validate(); err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 5 {
		t.Errorf("DetectorOptions.Validate = %v, want 5 problems", err)
	}
}

func containsField(err error, field string) bool {
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var oe *coord.OptionError
		if errors.As(e, &oe) && oe.Field == field {
			return true
		}
	}
	return false
}

func TestPathKeyIsStable(t *testing.T) {
	// FNV-1a of "t\x00/p": the same in every process and on every machine.
	got := coord.PathKey(&semevent.Event{Tenant: "t", Path: "/p"})
	if got != 0xcbc445ee6ea5bfd6 {
		t.Errorf("PathKey = %#x", got)
	}
}
