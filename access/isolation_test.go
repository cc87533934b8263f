package access_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

var isolationPolicy = &access.Policy{Roles: []access.Role{
	{Name: "reader", Grants: []access.Grant{
		{Ops: []access.Op{access.OpSubscribe, access.OpReplay}, Topics: []string{"fs.>", "tenant.*.fs.>"}},
		{Deny: true, Ops: []access.Op{access.OpSubscribe, access.OpReplay}, Paths: []string{"/private/**"}},
	}},
	{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
	{Name: "auditor", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe, access.OpReplay}}}},
}}

// allowedRef is the brute-force reference for isolationPolicy: may p see ev?
func allowedRef(p *access.Principal, ev *semevent.Event) bool {
	if p.Tenant != "" && ev.Tenant != p.Tenant {
		return false
	}
	if p.HasRole("auditor") {
		return true
	}
	topic := ev.TopicOrKind()
	inTopics := strings.HasPrefix(topic, "fs.") || (strings.HasPrefix(topic, "tenant.") && strings.Contains(topic, ".fs."))
	return inTopics && !strings.HasPrefix(ev.Path, "/private/")
}

type sink struct {
	mu  sync.Mutex
	ids map[semevent.ID]*semevent.Event
}

func (s *sink) Handle(ctx context.Context, ev *semevent.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[ev.ID] = ev.Clone()
	return nil
}

func (s *sink) len() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.ids) }

// TestTenantIsolationRandomized runs random subscriptions (live and
// replaying, with random filters, some claiming another tenant) and random
// events from several tenants, some published by a tenant's writer for
// another tenant, through a bus with an Authorizer and a journal. Every
// subscription must receive exactly the events the reference policy lets
// its principal see and its filter selects: nothing from another tenant,
// nothing missing.
func TestTenantIsolationRandomized(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { isolationRun(t, seed) })
	}
}

func isolationRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 99))
	ctx := context.Background()
	j, err := journal.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	az, err := access.New(isolationPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := propagation.New(&propagation.Options{Authorizer: az, Journal: j, Durability: propagation.Durable})
	if err != nil {
		t.Fatal(err)
	}
	tenants := []string{"acme", "globex", "initech"}
	kinds := []semevent.Kind{semevent.KindFileWrite, semevent.KindFileDelete, semevent.KindRuleFired, semevent.KindFileCreate}

	// Half the events are published before the subscriptions: only the
	// replaying ones can see those.
	var published []*semevent.Event
	var refused int
	publish := func(n int) {
		for range n {
			writerTenant := tenants[r.IntN(3)]
			ev := &semevent.Event{Kind: kinds[r.IntN(len(kinds))], Tenant: writerTenant, Path: fmt.Sprintf("/%s/f%d", []string{"data", "private", "tmp"}[r.IntN(3)], r.IntN(50))}
			if r.IntN(3) == 0 {
				ev.Topic = "tenant." + ev.Tenant + "." + ev.Kind.Topic()
			}
			if r.IntN(10) == 0 {
				ev.Tenant = tenants[(r.IntN(2)+1+indexOf(tenants, writerTenant))%3] // forging another tenant
			}
			writer := &access.Principal{User: "w-" + writerTenant, Tenant: writerTenant, Roles: []string{"writer"}}
			err := bus.Publish(access.WithPrincipal(ctx, writer), ev)
			switch {
			case ev.Tenant != writerTenant:
				if !errors.Is(err, access.ErrDenied) {
					t.Fatalf("writer of %s published an event of %s: %v", writerTenant, ev.Tenant, err)
				}
				refused++
			case err != nil:
				t.Fatal(err)
			default:
				published = append(published, ev.Clone())
			}
		}
	}
	// A barrier: once it has every phase-one event, the dispatcher is past
	// them, and subscriptions made now cannot get them live.
	barrier := &sink{ids: map[semevent.ID]*semevent.Event{}}
	if _, err := bus.Subscribe(barrier, &propagation.SubscribeOptions{Name: "barrier", Principal: &access.Principal{User: "b", Roles: []string{"auditor"}}}); err != nil {
		t.Fatal(err)
	}
	publish(300)
	before := len(published)
	for deadline := time.Now().Add(20 * time.Second); barrier.len() < before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}

	type subT struct {
		p      *access.Principal
		f      filter.Filter
		replay bool
		s      *sink
		want   int
	}
	var subs []*subT
	for i := range 24 {
		p := &access.Principal{User: fmt.Sprint("u", i), Roles: []string{"reader"}}
		switch r.IntN(4) {
		case 0:
			p.Roles = []string{"auditor"}
		case 1:
			p.Tenant = ""
		default:
			p.Tenant = tenants[r.IntN(3)]
		}
		if p.Tenant == "" && p.HasRole("reader") && r.IntN(2) == 0 {
			p.Tenant = tenants[r.IntN(3)]
		}
		st := &subT{p: p, replay: r.IntN(3) == 0, s: &sink{ids: map[semevent.ID]*semevent.Event{}}}
		prefix := []string{"/", "/data/", "/private/"}[r.IntN(3)]
		st.f = filter.Func(func(ev *semevent.Event) bool { return strings.HasPrefix(ev.Path, prefix) })
		o := &propagation.SubscribeOptions{Name: p.User, Principal: p, Filter: st.f}
		if r.IntN(4) == 0 {
			o.Tenant = tenants[r.IntN(3)] // may claim a tenant that is not theirs
		}
		if st.replay {
			o.Replay = &propagation.Replay{From: 0}
		}
		claimed := o.Tenant
		if claimed != "" {
			inner := st.f
			st.f = filter.Func(func(ev *semevent.Event) bool { return ev.Tenant == claimed && inner.Match(ev) })
		}
		if _, err := bus.Subscribe(st.s, o); err != nil {
			t.Fatalf("Subscribe %v: %v", p, err)
		}
		subs = append(subs, st)
	}
	publish(300)

	for _, st := range subs {
		want := 0
		for i, ev := range published {
			if (st.replay || i >= before) && allowedRef(st.p, ev) && st.f.Match(ev) {
				want++
			}
		}
		deadline := time.Now().Add(20 * time.Second)
		for st.s.len() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		st.want = want
	}
	if err := bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	leaks, missing := 0, 0
	for _, st := range subs {
		got := st.s
		for _, ev := range got.ids {
			if !allowedRef(st.p, ev) {
				leaks++
				t.Errorf("%v received %s's event %s %s", st.p, ev.Tenant, ev.TopicOrKind(), ev.Path)
			}
		}
		if len(got.ids) != st.want {
			missing++
			t.Errorf("%v (replay %v) received %d events, want %d", st.p, st.replay, len(got.ids), st.want)
		}
	}
	t.Logf("seed %d: %d events published, %d forged ones refused, %d subscriptions, %d leaks, %d incomplete", seed, len(published), refused, len(subs), leaks, missing)
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
