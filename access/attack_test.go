package access_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

func newTrail(t *testing.T) (*audit.Log, string, ed25519.PublicKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	return l, path, pub
}

// Issue 18 item 7: a deny on /secret/** was bypassed by unclean paths,
// and a publish grant on /data/** accepted /data/../etc/passwd.
func TestPathsAreCleanedBeforeMatching(t *testing.T) {
	az, err := access.New(&access.Policy{Roles: []access.Role{{Name: "r", Grants: []access.Grant{
		{Ops: []access.Op{access.OpSubscribe}},
		{Deny: true, Ops: []access.Op{access.OpSubscribe}, Paths: []string{"/secret/**"}},
		{Deny: true, Ops: []access.Op{access.OpSubscribe}, When: `event.Path == "/hidden/x"`},
		{Ops: []access.Op{access.OpPublish}, Paths: []string{"/data/**"}},
	}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &access.Principal{User: "u", Roles: []string{"r"}}
	ev := func(path string) *semevent.Event { return &semevent.Event{Kind: semevent.KindFileWrite, Path: path} }
	checker := az.Checker(p, access.OpSubscribe)
	for _, path := range []string{
		"/data/../secret/keys.pem", "//secret/keys.pem", "/./secret/keys.pem", "/secret//keys.pem",
		"/secret/./keys.pem", "/../secret/keys.pem", "/data/../../secret/keys.pem", "/secret/keys.pem/",
		"/data/./../hidden/x", "//hidden//x", "secret/keys.pem", "../secret/keys.pem",
	} {
		if err := az.Authorize(p, access.OpSubscribe, ev(path)); err == nil {
			t.Errorf("subscribe %q allowed despite the deny on /secret/** (or the condition on /hidden/x)", path)
		}
		if checker.Allow(ev(path)) {
			t.Errorf("Checker allowed %q despite the deny", path)
		}
	}
	for _, path := range []string{"/data/../etc/passwd", "/data/../../etc/passwd", "data/x", "../data/x", "/data/x/../../etc"} {
		if err := az.Authorize(p, access.OpPublish, ev(path)); err == nil {
			t.Errorf("publish %q allowed by the grant on /data/**", path)
		}
	}
	for _, path := range []string{"/data/x", "/data//x", "/data/./x/../y"} {
		if err := az.Authorize(p, access.OpPublish, ev(path)); err != nil {
			t.Errorf("publish %q: %v, want allowed (it is under /data)", path, err)
		}
	}
	if err := az.Authorize(p, access.OpSubscribe, ev("/public/a")); err != nil {
		t.Errorf("subscribe /public/a: %v", err)
	}
}

// Issue 18 item 8: a deny grant whose condition failed at run time was
// skipped, so the allow won. It must deny, be counted and audited.
func TestErroringDenyConditionFailsClosed(t *testing.T) {
	trail, path, pub := newTrail(t)
	az, err := access.New(&access.Policy{Roles: []access.Role{{Name: "r", Grants: []access.Grant{
		{Ops: []access.Op{access.OpSubscribe}},
		{Deny: true, Ops: []access.Op{access.OpSubscribe}, When: `principal.Roles[5] == "x"`}, // index out of range
	}}}}, &access.Options{Audit: trail})
	if err != nil {
		t.Fatal(err)
	}
	p := &access.Principal{User: "u", Roles: []string{"r"}}
	e := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"}
	err = az.Authorize(p, access.OpSubscribe, e)
	if !errors.Is(err, access.ErrDenied) || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("Authorize with an erroring deny condition = %v, want denied, saying the condition failed", err)
	}
	if az.Checker(p, access.OpSubscribe).Allow(e) {
		t.Fatal("Checker allowed an event whose deny condition errs")
	}
	if n := az.Stats().ConditionErrors; n != 2 {
		t.Fatalf("Stats().ConditionErrors = %d, want 2", n)
	}
	if err := trail.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.VerifyFile(path, pub, nil); err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, r := range readTrail(t, path) {
		if r.Kind == audit.Decision && !r.Allowed && strings.Contains(r.Reason, "failed") {
			audited++
		}
	}
	if audited != 2 {
		t.Fatalf("%d denials by a failed condition audited, want 2", audited)
	}
}

type nopHandler struct{}

func (nopHandler) Handle(context.Context, *semevent.Event) error { return nil }

// Issue 18 item 9: Subscribe with an unknown role was accepted, and a
// principal's roles changed in place kept their old effect.
func TestUnknownRolesAndPrincipalSnapshots(t *testing.T) {
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>"}}}},
		{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := propagation.New(&propagation.Options{Authorizer: az})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	for _, roles := range [][]string{{"nope"}, {"reader", "nope"}, {"nope", "reader"}} {
		_, err := bus.Subscribe(nopHandler{}, &propagation.SubscribeOptions{Principal: &access.Principal{User: "u", Roles: roles}})
		if !errors.Is(err, access.ErrUnknownRole) {
			t.Errorf("Subscribe with roles %v = %v, want ErrUnknownRole", roles, err)
		}
	}

	// Authorize decides on the principal as it is at the call.
	p := &access.Principal{User: "u", Roles: []string{"reader"}}
	e := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"}
	if err := az.Authorize(p, access.OpSubscribe, e); err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = "writer"
	if err := az.Authorize(p, access.OpSubscribe, e); err == nil {
		t.Fatal("roles changed in place kept their old effect in Authorize")
	}
	p.Roles[0] = "reader"

	// A subscription keeps the roles its principal had when it
	// subscribed: changing them in place has no effect on it.
	var mu sync.Mutex
	got := 0
	sub := &access.Principal{User: "s", Roles: []string{"reader"}}
	s, err := bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
		mu.Lock()
		got++
		mu.Unlock()
		return nil
	}), &propagation.SubscribeOptions{Principal: sub})
	if err != nil {
		t.Fatal(err)
	}
	sub.Roles[0] = "writer" // would see nothing
	sub.Roles = append(sub.Roles, "nope")
	w := access.WithPrincipal(context.Background(), &access.Principal{User: "w", Roles: []string{"writer"}})
	for i := range 10 {
		if err := bus.Publish(w, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprint("/f", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		mu.Lock()
		n := got
		mu.Unlock()
		if n == 10 {
			break
		}
	}
	s.Unsubscribe()
	mu.Lock()
	defer mu.Unlock()
	if got != 10 {
		t.Fatalf("subscription received %d of 10 events after its principal was changed in place, want 10 (snapshot at subscribe)", got)
	}
}

// Issue 18 item 10: a tenant's writer published topic audit.record into
// the journal the audit trail shares; the trail then failed to verify and
// audit.New refused to continue it.
func TestTenantCannotForgeAuditRecords(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	ctx := context.Background()
	j, err := journal.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	store, err := audit.NewJournalStore(j)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.New(store, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	az, err := access.New(&access.Policy{Roles: []access.Role{{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}}}},
		&access.Options{Audit: trail})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := propagation.New(&propagation.Options{Authorizer: az, Journal: j, Durability: propagation.Durable})
	if err != nil {
		t.Fatal(err)
	}
	w := access.WithPrincipal(ctx, &access.Principal{User: "w", Tenant: "acme", Roles: []string{"writer"}})
	for _, topic := range []string{audit.AuditTopic, "audit.other", "automation.workflow.record"} {
		forged := &semevent.Event{Kind: semevent.KindCustom, Topic: topic, Tenant: "acme", Data: []byte("\x01\x00")}
		if err := bus.Publish(w, forged); !errors.Is(err, access.ErrDenied) {
			t.Errorf("a tenant's writer published reserved topic %s: %v", topic, err)
		}
	}
	if err := bus.Publish(w, &semevent.Event{Kind: semevent.KindFileWrite, Tenant: "acme", Path: "/a"}); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := trail.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs, err := audit.ReadJournal(j)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Verify(recs, pub, nil); err != nil {
		t.Fatalf("the trail no longer verifies: %v", err)
	}
	again, err := audit.New(store, &audit.Options{Key: priv})
	if err != nil {
		t.Fatalf("audit.New refuses to continue the trail: %v", err)
	}
	again.Close(ctx)
}

// Issue 18 item 19: a subscription's checker state and its audit records
// grew per distinct foreign tenant and denied topic. 500k distinct ones
// must leave both bounded.
func TestCheckerStateIsBounded(t *testing.T) {
	trail, path, pub := newTrail(t)
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>"}}}},
	}}, &access.Options{Audit: trail, MaxAuditedKeys: 100, CheckerCacheSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	c := az.Checker(&access.Principal{User: "u", Tenant: "acme", Roles: []string{"reader"}}, access.OpSubscribe)
	const n = 500_000
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	ev := &semevent.Event{Kind: semevent.KindCustom, Path: "/p"}
	for i := range n {
		if i%2 == 0 {
			ev.Tenant, ev.Topic = fmt.Sprintf("tenant-%d", i), "fs.x"
		} else {
			ev.Tenant, ev.Topic = "acme", fmt.Sprintf("denied.%d", i)
		}
		if c.Allow(ev) {
			t.Fatal("allowed a foreign tenant's or an ungranted topic's event")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(before)
	if c.Denied() != n {
		t.Fatalf("Denied = %d, want %d", c.Denied(), n)
	}
	// The documented bound: CheckerCacheSize topics and MaxAuditedKeys
	// keys, each well under 1 KiB here.
	const bound = 4 << 20
	if grew > bound {
		t.Fatalf("heap grew %d bytes over %d distinct keys, want under %d", grew, n, bound)
	}
	st := az.Stats()
	if st.CheckerEvictions == 0 || st.UnauditedDenials != n-100 {
		t.Fatalf("stats %+v: want evictions counted and %d unaudited denials", st, n-100)
	}
	if err := trail.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The Open record, 100 denials, one record saying auditing stops,
	// checkpoints (one per 64 records and the final one).
	if rep.Records > 100+1+1+4 {
		t.Fatalf("the trail holds %d records for %d distinct denied keys, want at most %d", rep.Records, n, 106)
	}
	t.Logf("%d distinct keys: heap +%d KiB, %d audit records, stats %+v", n, grew>>10, rep.Records, st)
}

// blockingStore is an audit.Store whose appends wait, once blocked, until
// released: a trail on a stalled disk.
type blockingStore struct {
	blocked atomic.Bool
	release chan struct{}
}

func (s *blockingStore) Append([]byte) error {
	if s.blocked.Load() {
		<-s.release
	}
	return nil
}
func (*blockingStore) Sync() error                          { return nil }
func (*blockingStore) Records(func(rec []byte) error) error { return nil }
func (*blockingStore) Close() error                         { return nil }

// Issue 18 item 15: denials were audited on the dispatcher goroutine, so
// a slow trail slowed every subscriber. With the trail's disk stalled
// outright, another subscription still gets all its events while a
// denied one produces a denial per distinct topic; the records that do
// not fit the queue are dropped and counted.
func TestStalledTrailDoesNotBlockDelivery(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	store := &blockingStore{release: make(chan struct{})}
	trail, err := audit.New(store, &audit.Options{Key: priv, QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>"}}}},
		{Name: "all", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe, access.OpPublish}}}},
	}}, &access.Options{Audit: trail})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := propagation.New(&propagation.Options{Authorizer: az})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Subscribe(nopHandler{}, &propagation.SubscribeOptions{Principal: &access.Principal{User: "r", Roles: []string{"reader"}}}); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	var got atomic.Int64
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
		got.Add(1)
		return nil
	}), &propagation.SubscribeOptions{Principal: &access.Principal{User: "o", Roles: []string{"all"}}}); err != nil {
		t.Fatal(err)
	}
	store.blocked.Store(true)
	ctx := access.WithPrincipal(context.Background(), &access.Principal{User: "w", Roles: []string{"all"}})
	for i := range n {
		if err := bus.Publish(ctx, &semevent.Event{Kind: semevent.KindCustom, Topic: fmt.Sprintf("denied.%d", i), Path: "/a"}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); got.Load() < n && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	delivered := got.Load()
	close(store.release)
	if err := bus.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := trail.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if delivered != n {
		t.Fatalf("with the audit trail stalled, the other subscription got %d of %d events", delivered, n)
	}
	if d := trail.Stats().Dropped; d == 0 {
		t.Fatal("no audit record was dropped although the trail was stalled with a 64-record queue")
	}
}

// Reserved topics need a grant that names them, even for an operator: a
// grant on every topic does not cover the audit trail's.
func TestReservedTopicsNeedAGrantThatNamesThem(t *testing.T) {
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "all", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
		{Name: "wild", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{">", "*.record"}}}},
		{Name: "auditor", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"audit.>"}}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &semevent.Event{Kind: semevent.KindCustom, Topic: audit.AuditTopic}
	for _, role := range []string{"all", "wild"} {
		if err := az.Authorize(&access.Principal{User: "op", Roles: []string{role}}, access.OpPublish, ev); err == nil {
			t.Errorf("role %s (no tenant) published %s", role, audit.AuditTopic)
		}
	}
	if err := az.Authorize(&access.Principal{User: "op", Roles: []string{"auditor"}}, access.OpPublish, ev); err != nil {
		t.Errorf("an operator with a grant on audit.> may publish it: %v", err)
	}
	if err := az.Authorize(&access.Principal{User: "op", Roles: []string{"all"}}, access.OpPublish, &semevent.Event{Kind: semevent.KindFileWrite}); err != nil {
		t.Errorf("role all publishing fs.file.write: %v", err)
	}
}
