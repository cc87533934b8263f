package semevent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/vexfs/semevent"
)

// The hash must never change: shard placement on disk depends on it.
func TestKeyHashGolden(t *testing.T) {
	for _, tc := range []struct {
		k    semevent.Key
		want uint64
	}{
		{semevent.Key{}, 0xdcc4a3ee6981ba07},
		{semevent.Key{Tenant: "acme", S: "/data/a.txt"}, 0x6d08f169984118f},
		{semevent.Key{Tenant: "globex", S: "/data/a.txt"}, 0xcbd8544833b88708},
		{semevent.Key{N: 4242}, 0xe699bd83ea60c9c4},
	} {
		if got := tc.k.Hash(); got != tc.want {
			t.Errorf("%#v.Hash() = %#x, want %#x", tc.k, got, tc.want)
		}
	}
}

func TestKeyHashSeparatesComponents(t *testing.T) {
	pairs := [][2]semevent.Key{
		{{Tenant: "ab", S: "c"}, {Tenant: "a", S: "bc"}},
		{{Tenant: "acme", S: "/x"}, {Tenant: "globex", S: "/x"}},
		{{S: "/x", N: 1}, {S: "/x", N: 2}},
		{{Tenant: "", S: "acme"}, {Tenant: "acme", S: ""}},
	}
	for _, p := range pairs {
		if p[0].Hash() == p[1].Hash() {
			t.Errorf("%#v and %#v hash alike: %#x", p[0], p[1], p[0].Hash())
		}
	}
}

func TestKeyFuncsCarryTenant(t *testing.T) {
	ev := &semevent.Event{Tenant: "acme", Path: "/a", PID: 7}
	for name, f := range map[string]semevent.KeyFunc{
		"PathKey": semevent.PathKey, "PIDKey": semevent.PIDKey, "TenantKey": semevent.TenantKey,
	} {
		if k := f(ev); k.Tenant != "acme" {
			t.Errorf("%s(ev).Tenant = %q, want %q", name, k.Tenant, "acme")
		}
	}
	if got, want := semevent.PathKey(ev).String(), "acme//a"; got != want {
		t.Errorf("PathKey(ev).String() = %q, want %q", got, want)
	}
}

func TestKeyHashAllocs(t *testing.T) {
	k := semevent.Key{Tenant: "acme", S: "/data/some/long/path/file.txt", N: 3}
	if n := testing.AllocsPerRun(100, func() { _ = k.Hash() }); n != 0 {
		t.Errorf("Hash allocates %v times", n)
	}
}

func BenchmarkKeyHash(b *testing.B) {
	k := semevent.Key{Tenant: "acme", S: "/data/projects/semevent/propagation/bus.go"}
	b.ReportAllocs()
	for b.Loop() {
		_ = k.Hash()
	}
}

func TestOptionsError(t *testing.T) {
	e := &semevent.OptionsError{Options: "x.Options"}
	if e.Err() != nil {
		t.Fatal("Err() of an empty OptionsError is not nil")
	}
	e.Addf("Size", "must be > 0, got %d", -1)
	e.Addf("Name", "empty")
	err := e.Err()
	if !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("errors.Is(%v, ErrInvalidOptions) = false", err)
	}
	if got, want := err.Error(), "semevent: invalid x.Options: Size: must be > 0, got -1; Name: empty"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

type closer struct {
	name  string
	order *[]string
	err   error
}

func (c *closer) Close(context.Context) error { *c.order = append(*c.order, c.name); return c.err }

func TestCloseAllInOrderJoinsErrors(t *testing.T) {
	var order []string
	e1, e2 := errors.New("one"), errors.New("two")
	err := semevent.CloseAll(context.Background(),
		&closer{"mount", &order, e1}, nil, &closer{"bus", &order, nil}, &closer{"journal", &order, e2})
	if got := len(order); got != 3 || order[0] != "mount" || order[1] != "bus" || order[2] != "journal" {
		t.Errorf("closed in order %v, want [mount bus journal]", order)
	}
	if !errors.Is(err, e1) || !errors.Is(err, e2) {
		t.Errorf("CloseAll = %v, want both errors", err)
	}
}

func TestPublishTimeoutBoundsAPublish(t *testing.T) {
	p := semevent.PublishFunc(func(ctx context.Context, _ *semevent.Event) error {
		<-ctx.Done()
		return ctx.Err()
	})
	err := semevent.PublishTimeout(context.Background(), p, &semevent.Event{}, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PublishTimeout = %v, want DeadlineExceeded", err)
	}
}
