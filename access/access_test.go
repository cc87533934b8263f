package access_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/access/audit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var testPolicy = &access.Policy{Roles: []access.Role{
	{Name: "reader", Grants: []access.Grant{
		{Ops: []access.Op{access.OpSubscribe, access.OpReplay}, Topics: []string{"tenant.*.fs.>", "fs.>"}},
		{Deny: true, Ops: []access.Op{access.OpSubscribe, access.OpReplay}, Paths: []string{"/secret/**"}},
	}},
	{Name: "writer", Grants: []access.Grant{
		{Ops: []access.Op{access.OpPublish}, Topics: []string{"fs.file.*"}, Paths: []string{"/data/**"}},
	}},
	{Name: "owner", Grants: []access.Grant{
		{Ops: []access.Op{access.OpSubscribe}, When: `event.UID == principal.UID || "admin" in principal.Roles`},
	}},
	{Name: "admin", Grants: []access.Grant{{Ops: []access.Op{access.OpAdmin}}}},
}}

func TestDecisions(t *testing.T) {
	a, err := access.New(testPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	alice := &access.Principal{User: "alice", UID: 1000, Tenant: "acme", Roles: []string{"reader", "writer"}}
	ops := &access.Principal{User: "ops", Roles: []string{"reader", "admin"}}
	owner := &access.Principal{User: "bob", UID: 42, Roles: []string{"owner"}}
	ghost := &access.Principal{User: "ghost", Roles: []string{"no-such-role"}}
	ev := func(kind semevent.Kind, tenant, path string, uid uint32) *semevent.Event {
		return &semevent.Event{Kind: kind, Tenant: tenant, Path: path, UID: uid}
	}
	for _, tc := range []struct {
		name  string
		p     *access.Principal
		op    access.Op
		ev    *semevent.Event
		allow bool
		is    error
	}{
		{"reader sees own tenant", alice, access.OpSubscribe, ev(semevent.KindFileWrite, "acme", "/data/a", 0), true, nil},
		{"tenant isolation", alice, access.OpSubscribe, ev(semevent.KindFileWrite, "globex", "/data/a", 0), false, nil},
		{"tenantless event hidden from tenant user", alice, access.OpSubscribe, ev(semevent.KindFileWrite, "", "/data/a", 0), false, nil},
		{"deny wins over allow", alice, access.OpSubscribe, ev(semevent.KindFileWrite, "acme", "/secret/key", 0), false, nil},
		{"topic outside grants", alice, access.OpSubscribe, ev(semevent.KindRuleFired, "acme", "/data/a", 0), false, nil},
		{"writer publishes under /data", alice, access.OpPublish, ev(semevent.KindFileWrite, "acme", "/data/x/y", 0), true, nil},
		{"writer may not publish elsewhere", alice, access.OpPublish, ev(semevent.KindFileWrite, "acme", "/etc/passwd", 0), false, nil},
		{"no grant for the op", alice, access.OpAdmin, ev(semevent.KindCustom, "acme", "", 0), false, nil},
		{"operator across tenants", ops, access.OpReplay, ev(semevent.KindFileDelete, "globex", "/data/a", 0), true, nil},
		{"condition true", owner, access.OpSubscribe, ev(semevent.KindFileWrite, "", "/home/bob", 42), true, nil},
		{"condition false", owner, access.OpSubscribe, ev(semevent.KindFileWrite, "", "/home/eve", 43), false, nil},
		{"unknown role", ghost, access.OpSubscribe, ev(semevent.KindFileWrite, "", "/a", 0), false, access.ErrUnknownRole},
		{"no principal", nil, access.OpPublish, ev(semevent.KindFileWrite, "", "/a", 0), false, access.ErrNoPrincipal},
	} {
		// Twice: the second answer comes from the cache.
		for range 2 {
			err := a.Authorize(tc.p, tc.op, tc.ev)
			if (err == nil) != tc.allow {
				t.Errorf("%s: Authorize = %v, want allowed %v", tc.name, err, tc.allow)
			}
			if err != nil && !errors.Is(err, access.ErrDenied) {
				t.Errorf("%s: %v does not wrap ErrDenied", tc.name, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.is)
			}
			c := a.Checker(tc.p, tc.op)
			if c.Allow(tc.ev) != tc.allow {
				t.Errorf("%s: Checker.Allow disagrees with Authorize", tc.name)
			}
		}
	}
}

func TestInvalidPolicyListsEveryProblem(t *testing.T) {
	_, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "r", Grants: []access.Grant{
			{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>.x"}},
			{Ops: []access.Op{access.OpSubscribe}, Paths: []string{"/a/[b"}},
			{Ops: []access.Op{access.OpSubscribe}, When: `event.Size > `},
			{Ops: []access.Op{access.OpSubscribe}, When: `event.Path`},
			{},
		}},
		{Name: "r"},
	}}, nil)
	var pe *access.PolicyError
	if !errors.As(err, &pe) {
		t.Fatalf("New = %v, want *PolicyError", err)
	}
	want := []string{"Topics[0] at 3", "Paths[0] at 3", "When at", "When at", "Ops at 0", `role "r" grant -1: Name`}
	if len(pe.Problems) != len(want) {
		t.Fatalf("%d problems, want %d: %v", len(pe.Problems), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(pe.Problems[i].Error(), w) {
			t.Errorf("problem %d = %q, want it to contain %q", i, pe.Problems[i], w)
		}
	}
}

func TestSetPolicyNeedsAdminAndIsAudited(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "audit.log")
	store, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(store, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	a, err := access.New(testPolicy, &access.Options{Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	reader := access.WithPrincipal(context.Background(), &access.Principal{User: "r", Roles: []string{"reader"}})
	admin := access.WithPrincipal(context.Background(), &access.Principal{User: "root", Roles: []string{"admin"}})
	open := &access.Policy{Roles: []access.Role{
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
		{Name: "admin", Grants: []access.Grant{{Ops: []access.Op{access.OpAdmin}}}},
	}}
	if err := a.SetPolicy(reader, open); !errors.Is(err, access.ErrDenied) {
		t.Fatalf("SetPolicy by a reader = %v, want denied", err)
	}
	if err := a.SetPolicy(admin, &access.Policy{Roles: []access.Role{{Name: ""}}}); err == nil {
		t.Fatal("SetPolicy with an invalid policy succeeded")
	}
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/x"}
	rp, _ := access.FromContext(reader)
	if err := a.Authorize(rp, access.OpPublish, ev); err == nil {
		t.Fatal("the old policy should still deny readers publishing")
	}
	if err := a.SetPolicy(admin, open); err != nil {
		t.Fatalf("SetPolicy by admin: %v", err)
	}
	if err := a.Authorize(rp, access.OpPublish, ev); err != nil {
		t.Fatalf("under the new policy readers publish: %v", err)
	}
	if err := log.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Records: the Open record, reader's refused SetPolicy, admin's
	// failed SetPolicy, reader's refused publish, admin's SetPolicy; then
	// the checkpoint.
	if rep.Records != 6 {
		t.Fatalf("audit trail has %d records, want 6", rep.Records)
	}
}
