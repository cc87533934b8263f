package isolationtest

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/routing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var policy = &access.Policy{Roles: []access.Role{
	{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
	{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe, access.OpReplay}, Topics: []string{"fs.>", "analytics.>"}}}},
	{Name: "analytics", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"analytics.window.>"}}}},
	{Name: "operator", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe, access.OpReplay}}}},
}}

// recorder keeps what one consumer was given, with the tenant it belongs
// to ("" for an operator that may see every tenant).
type recorder struct {
	tenant string
	mu     sync.Mutex
	got    []*semevent.Event
}

func (r *recorder) Handle(_ context.Context, ev *semevent.Event) error {
	r.mu.Lock()
	r.got = append(r.got, ev.Clone())
	r.mu.Unlock()
	return nil
}

func (r *recorder) events() []*semevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*semevent.Event(nil), r.got...)
}

// TestTenantIsolationEverywhereEventsMeet is issue 18's randomised test:
// random tenants publish random file events on shared paths (with kernel
// twins of their own and of other tenants, for dedup) through one bus
// with an Authorizer, dedup, a router with a hashed group, a journal that
// also holds the audit trail; tenant readers (live, routed, durable
// consumers of the same name), a CEP engine, a workflow executor (an Await
// workflow and a state machine) and an analytics processor consume it.
// Every delivered event, match, window and workflow input is checked
// against a brute-force reference of the policy: 0 leaks. Two seeds by
// default, twelve with SEMEVENT_SOAK=1.
func TestTenantIsolationEverywhereEventsMeet(t *testing.T) {
	seeds := uint64(2)
	if os.Getenv("SEMEVENT_SOAK") != "" {
		seeds = 12
	}
	for seed := uint64(1); seed <= seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { isolationRun(t, seed) })
	}
}

func isolationRun(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 18))
	ctx := context.Background()
	tenants := make([]string, 3+r.IntN(3))
	for i := range tenants {
		tenants[i] = fmt.Sprintf("t%x", r.Uint32())
	}
	tenantOf := func(i int) string { return tenants[i] }

	j, err := journal.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(ctx)
	pub, priv, _ := ed25519.GenerateKey(nil)
	store, err := audit.NewJournalStore(j)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.New(store, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	az, err := access.New(policy, &access.Options{Audit: trail})
	if err != nil {
		t.Fatal(err)
	}

	// Routing: every consumer by name, and a group with one member per
	// tenant placed by a hash of the path (so the router alone would mix
	// tenants; the bus must not deliver across them).
	var names []string
	var members []string
	for _, tn := range tenants {
		names = append(names, "live-"+tn)
		members = append(members, "grp-"+tn)
	}
	names = append(names, "cep", "exec", "analytics")
	tab, err := routing.New(&routing.RuleSet{
		Groups: []routing.Group{{Name: "workers", Members: members, Strategy: routing.Hash}},
		Rules:  []routing.Rule{{Subject: ">", To: names}, {Subject: "fs.>", To: []string{"workers"}}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := propagation.New(&propagation.Options{
		Authorizer: az, Journal: j, Durability: propagation.Durable, Router: tab,
		Dedup: &propagation.DedupOptions{Window: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	operator := &access.Principal{User: "ops", Roles: []string{"operator"}}

	// Consumers.
	live := map[string]*recorder{}
	group := map[string]*recorder{}
	for _, tn := range tenants {
		live[tn], group[tn] = &recorder{tenant: tn}, &recorder{tenant: tn}
		p := &access.Principal{User: "reader-" + tn, Tenant: tn, Roles: []string{"reader"}}
		if _, err := bus.Subscribe(live[tn], &propagation.SubscribeOptions{Name: "live-" + tn, Principal: p}); err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Subscribe(group[tn], &propagation.SubscribeOptions{Name: "grp-" + tn, Principal: p}); err != nil {
			t.Fatal(err)
		}
	}
	matches := &automationtest.Publisher{}
	eng, err := cep.New([]cep.Pattern{
		&cep.Sequence{Name: "create-delete", Stages: []cep.Stage{{Kind: semevent.KindFileCreate}, {Kind: semevent.KindFileDelete}}, Within: time.Hour},
	}, &cep.Options{Publisher: matches})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Subscribe(eng, &propagation.SubscribeOptions{Name: "cep", Principal: operator}); err != nil {
		t.Fatal(err)
	}
	type awaited struct {
		tenant, path string
		ev           *semevent.Event
	}
	var awMu sync.Mutex
	var aw []awaited
	await := automation.NewWorkflow("await-writes", filter.Kinds(semevent.KindFileCreate), func(run *automation.Run) error {
		for {
			ev, err := run.Await("write", filter.Kinds(semevent.KindFileWrite), 0)
			if err != nil {
				return err
			}
			awMu.Lock()
			aw = append(aw, awaited{run.Tenant(), run.Event().Path, ev.Clone()})
			awMu.Unlock()
		}
	})
	machine, err := automation.NewMachine(automation.Machine{
		Name: "open-close", When: `Kind == "create"`, Initial: "open",
		States: map[string]automation.State{
			"open":   {On: []automation.Transition{{When: `Kind == "close"`, To: "closed"}}},
			"closed": {Final: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{await, machine}, MaxConcurrent: 4096, History: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Subscribe(ex, &propagation.SubscribeOptions{Name: "exec", Principal: operator}); err != nil {
		t.Fatal(err)
	}
	var resMu sync.Mutex
	var results []analytics.Result
	proc, err := analytics.New(&analytics.Options{
		Name: "per-path", Window: analytics.Tumbling(time.Second),
		OnResult: func(res analytics.Result) {
			resMu.Lock()
			results = append(results, res)
			resMu.Unlock()
		},
		// Results come back through the bus as events of their key's
		// tenant: each tenant's reader may see its own only.
		Publisher: bus, Principal: &access.Principal{User: "analytics", Roles: []string{"analytics"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Subscribe(proc, &propagation.SubscribeOptions{Name: "analytics", Principal: operator}); err != nil {
		t.Fatal(err)
	}

	// Publish.
	var published []*semevent.Event // as published: FUSE sightings and other tenants' kernel ones
	var twins []*semevent.Event     // kernel twins of the same tenant (folded when dedup keys them)
	kinds := []semevent.Kind{semevent.KindFileCreate, semevent.KindFileWrite, semevent.KindFileClose, semevent.KindFileDelete}
	t0 := time.Now().Add(-time.Minute).UnixNano()
	forgedAudit := 0
	for i := range 400 {
		ti := r.IntN(len(tenants))
		tn := tenantOf(ti)
		w := access.WithPrincipal(ctx, &access.Principal{User: "writer-" + tn, Tenant: tn, Roles: []string{"writer"}})
		ev := &semevent.Event{Kind: kinds[r.IntN(len(kinds))], Tenant: tn, Path: fmt.Sprintf("/shared/f%d", r.IntN(6)),
			PID: uint32(1000*(ti+1) + r.IntN(100)), Boundary: semevent.FUSE, Time: t0 + int64(i)*int64(time.Millisecond)}
		published = append(published, ev)
		// A durable Publish returns once the event is committed, which a
		// sighting held for its twin is not until the twin comes: twins
		// are published together, as the FUSE bridge and the kernel
		// watcher do from their own goroutines.
		batch := []struct {
			ctx context.Context
			ev  *semevent.Event
		}{{w, ev}}
		switch r.IntN(5) {
		case 0: // the kernel watcher's twin, same tenant
			twin := &semevent.Event{Kind: ev.Kind, Tenant: tn, Path: ev.Path, PID: ev.PID, Boundary: semevent.Kernel, Time: ev.Time}
			batch = append(batch, struct {
				ctx context.Context
				ev  *semevent.Event
			}{w, twin})
			twins = append(twins, twin)
		case 1: // the same operation's shape from another tenant
			oi := (ti + 1 + r.IntN(len(tenants)-1)) % len(tenants)
			on := tenantOf(oi)
			ow := access.WithPrincipal(ctx, &access.Principal{User: "writer-" + on, Tenant: on, Roles: []string{"writer"}})
			other := &semevent.Event{Kind: ev.Kind, Tenant: on, Path: ev.Path, PID: uint32(1000*(oi+1) + r.IntN(100)), Boundary: semevent.Kernel, Time: ev.Time}
			batch = append(batch, struct {
				ctx context.Context
				ev  *semevent.Event
			}{ow, other})
			published = append(published, other)
		case 2: // a forged audit record
			err := bus.Publish(w, &semevent.Event{Kind: semevent.KindCustom, Topic: audit.AuditTopic, Tenant: tn, Data: []byte{1}})
			if !errors.Is(err, access.ErrDenied) {
				t.Fatalf("a tenant published %s: %v", audit.AuditTopic, err)
			}
			forgedAudit++
		}
		var wg sync.WaitGroup
		errs := make([]error, len(batch))
		for k, p := range batch {
			wg.Go(func() { errs[k] = bus.Publish(p.ctx, p.ev) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
		}
	}
	// Let everything through dedup and the consumers.
	total := len(published)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		n := 0
		for _, rec := range live {
			n += len(rec.events())
		}
		if n >= total-total/4 && bus.Stats().Delivered > 0 {
			time.Sleep(200 * time.Millisecond)
			break
		}
	}

	all := append(append([]*semevent.Event(nil), published...), twins...)
	tenantOfID := map[semevent.ID]string{}
	for _, ev := range all {
		tenantOfID[ev.ID] = ev.Tenant
	}
	pidTenant := func(pid uint32) string {
		if pid < 1000 || int(pid/1000) > len(tenants) {
			return fmt.Sprintf("pid %d of no tenant", pid)
		}
		return tenantOf(int(pid/1000) - 1)
	}
	nResults := 0 // analytics results delivered to tenant readers
	leaks := 0
	leak := func(format string, args ...any) {
		leaks++
		t.Errorf("LEAK: "+format, args...)
	}

	// Live, routed and dedup: each delivered event and every sighting
	// folded into it belong to the reader's tenant.
	checkDelivered := func(what string, rec *recorder) int {
		evs := rec.events()
		for _, ev := range evs {
			if ev.Tenant != rec.tenant {
				leak("%s of %s received %s's event %v", what, rec.tenant, ev.Tenant, ev.ID)
			}
			if strings.HasPrefix(ev.TopicOrKind(), "analytics.") {
				continue // a window's result: no pid
			}
			if pidTenant(ev.PID) != rec.tenant {
				leak("%s of %s received an event with pid %d of %s", what, rec.tenant, ev.PID, pidTenant(ev.PID))
			}
			for _, o := range ev.Observed {
				if o.PID != 0 && pidTenant(o.PID) != rec.tenant {
					leak("%s of %s: dedup folded a sighting of %s (pid %d) into %v", what, rec.tenant, pidTenant(o.PID), o.PID, ev.ID)
				}
			}
		}
		return len(evs)
	}
	nLive, nGroup, nFolded := 0, 0, 0
	for _, tn := range tenants {
		for _, ev := range live[tn].events() {
			if len(ev.Observed) > 0 {
				nFolded++
			}
		}
		nLive += checkDelivered("live reader", live[tn])
		nGroup += checkDelivered("group member", group[tn])
	}

	// Durable consumers: every tenant names its consumer "indexer"; each
	// replays exactly its own tenant's journaled events.
	nDurable := 0
	for _, tn := range tenants {
		rec := &recorder{tenant: tn}
		p := &access.Principal{User: "reader-" + tn, Tenant: tn, Roles: []string{"reader"}}
		sub, err := bus.Subscribe(rec, &propagation.SubscribeOptions{Name: "indexer-" + tn, Principal: p, Replay: &propagation.Replay{Consumer: "indexer"}})
		if err != nil {
			t.Fatal(err)
		}
		want := len(live[tn].events())
		for deadline := time.Now().Add(20 * time.Second); len(rec.events()) < want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		sub.Unsubscribe()
		nDurable += checkDelivered("durable consumer", rec)
		if got := len(rec.events()); got < want {
			t.Errorf("durable consumer indexer of %s replayed %d events, its live reader saw %d: another tenant's consumer took its offset?", tn, got, want)
		}
	}

	// CEP: a match belongs to the tenant of every event it names.
	if err := eng.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ms := matches.Events()
	for _, m := range ms {
		// Data holds the IDs of every event of the match.
		for i := 0; i+16 <= len(m.Data); i += 16 {
			var b [16]byte
			copy(b[:], m.Data[i:])
			id := semevent.IDFromBytes(b)
			if ct, ok := tenantOfID[id]; !ok || ct != m.Tenant {
				leak("CEP match of %s includes event %v of tenant %q", m.Tenant, id, ct)
			}
		}
		if ct := tenantOfID[m.Cause]; ct != m.Tenant {
			leak("CEP match of %s names %s's event %v as its cause", m.Tenant, ct, m.Cause)
		}
	}

	// Workflows: an Await only receives its execution's tenant's events;
	// a state machine closes only on its own tenant's close after its
	// create (brute force over the published events).
	if err := ex.Close(ctx); err != nil {
		t.Fatal(err)
	}
	awMu.Lock()
	for _, a := range aw {
		if a.ev.Tenant != a.tenant {
			leak("workflow of %s awaited %s's event %v", a.tenant, a.ev.Tenant, a.ev.ID)
		}
	}
	nAwait := len(aw)
	awMu.Unlock()
	closedBy := func(tn, path string, after int64) bool {
		for _, ev := range all {
			if ev.Tenant == tn && ev.Path == path && ev.Kind == semevent.KindFileClose && ev.Time >= after {
				return true
			}
		}
		return false
	}
	nMachine := 0
	for _, info := range ex.History() {
		if info.Workflow != "open-close" || info.Outcome != automation.Succeeded {
			continue
		}
		nMachine++
		var trig *semevent.Event
		for _, ev := range all {
			if ev.ID == info.Trigger {
				trig = ev
			}
		}
		if trig == nil {
			leak("state machine of %s was triggered by an event nobody published", info.Tenant)
			continue
		}
		if trig.Tenant != info.Tenant || !closedBy(info.Tenant, info.Path, trig.Time) {
			leak("state machine of %s on %s closed without a close of its own tenant", info.Tenant, info.Path)
		}
	}

	// Analytics: every window's key is one tenant's, and its counts add up
	// to no more than that tenant's events on that path (twins that dedup
	// folded count once).
	if err := proc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	resMu.Lock()
	perKey := map[semevent.Key]uint64{}
	for _, res := range results {
		if !res.Update {
			perKey[res.Key] += res.Agg.Count
		}
	}
	nWindows := len(results)
	resMu.Unlock()
	for k, n := range perKey {
		ref := uint64(0)
		for _, ev := range all {
			if ev.Tenant == k.Tenant && ev.Path == k.S {
				ref++
			}
		}
		if n > ref {
			leak("analytics window key %v counted %d events, the tenant published %d there", k, n, ref)
		}
	}

	if err := bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The processor published its results through the bus, each as an
	// event of its key's tenant: a tenant's reader gets its own only.
	for _, tn := range tenants {
		for _, ev := range live[tn].events() {
			if strings.HasPrefix(ev.TopicOrKind(), "analytics.window.") {
				nResults++
				if ev.Tenant != tn {
					leak("reader of %s received %s's analytics result", tn, ev.Tenant)
				}
			}
		}
	}
	// The audit trail shares the journal: it verifies and holds no
	// tenant-forged record.
	if err := trail.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := audit.ReadJournal(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(recs, pub, nil); err != nil {
		leak("the audit trail in the shared journal does not verify: %v", err)
	}
	for name, n := range map[string]int{"live": nLive, "folded by dedup": nFolded, "group": nGroup, "durable": nDurable, "CEP matches": len(ms), "awaited": nAwait, "machines closed": nMachine, "windows": nWindows, "results delivered": nResults, "forged audit": forgedAudit} {
		if n == 0 {
			t.Errorf("%s: nothing to check (the test would be vacuous)", name)
		}
	}
	t.Logf("seed %d, %d tenants, %d events: live %d (%d folded), group %d, durable %d, CEP %d, awaited %d, machines %d, windows %d (results delivered %d), forged audit refused %d: %d leaks",
		seed, len(tenants), total, nLive, nFolded, nGroup, nDurable, len(ms), nAwait, nMachine, nWindows, nResults, forgedAudit, leaks)
}
