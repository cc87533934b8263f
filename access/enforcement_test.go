package access_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/routing"
)

// TestAdminEntryPointsAreGuarded wires one Authorizer into a routing
// table, a rule engine, a workflow executor and a coordinator, and checks
// that each refuses a reader and serves an admin (or a granted runner),
// with every decision in a verified audit trail.
func TestAdminEntryPointsAreGuarded(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(t.TempDir(), "audit.log")
	store, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.New(store, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "admin", Grants: []access.Grant{{Ops: []access.Op{access.OpAdmin}}}},
		{Name: "runner", Grants: []access.Grant{{Ops: []access.Op{access.OpRunWorkflow}, Topics: []string{"workflow.ingest"}}}},
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}}}},
	}}, &access.Options{Audit: trail})
	if err != nil {
		t.Fatal(err)
	}
	admin := access.WithPrincipal(context.Background(), &access.Principal{User: "root", Roles: []string{"admin"}})
	runner := access.WithPrincipal(context.Background(), &access.Principal{User: "cron", Roles: []string{"runner"}})
	reader := access.WithPrincipal(context.Background(), &access.Principal{User: "eve", Roles: []string{"reader"}})
	// Issue 18 item 5: an admin bound to a tenant did SetPolicy, a routing
	// reload and a coord membership change. Every Guard target is global.
	tenantAdmin := access.WithPrincipal(context.Background(), &access.Principal{User: "acme-root", Tenant: "acme", Roles: []string{"admin"}})

	denied := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, access.ErrDenied) {
			t.Errorf("%s = %v, want ErrDenied", what, err)
		}
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s by an allowed principal: %v", what, err)
		}
	}

	// Routing rule reloads.
	tab, err := routing.New(nil, &routing.Options{Guard: az.Guard})
	if err != nil {
		t.Fatal(err)
	}
	rs := &routing.RuleSet{Rules: []routing.Rule{{Subject: "fs.>", To: []string{"all"}}}}
	denied("routing reload", tab.LoadContext(reader, rs))
	denied("routing reload without a principal", tab.Load(rs))
	denied("routing reload by a tenant's admin", tab.LoadContext(tenantAdmin, rs))
	allowed("routing reload", tab.LoadContext(admin, rs))

	// Automation rule reloads.
	eng, err := rules.New(nil, &rules.Options{Guard: az.Guard})
	if err != nil {
		t.Fatal(err)
	}
	ars := &rules.RuleSet{Rules: []rules.Rule{{Name: "r", When: `Kind == "write"`, Then: []rules.ActionRef{{Action: rules.ActionEmit}}}}}
	denied("automation reload", eng.LoadContext(reader, ars))
	denied("automation reload by a tenant's admin", eng.LoadContext(tenantAdmin, ars))
	allowed("automation reload", eng.LoadContext(admin, ars))

	// Running a workflow.
	wf, err := automation.NewFlow(automation.Flow{Name: "ingest", Steps: []automation.Node{
		automation.Task("noop", automation.Step{Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) { return nil, nil }}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{wf}, Authorize: az.AuthorizeWorkflow})
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close(context.Background())
	ev := &semevent.Event{Kind: semevent.KindFileCreate, Path: "/inbox/a.pdf"}
	_, err = ex.Start(reader, "ingest", ev)
	denied("workflow start", err)
	_, err = ex.Start(runner, "ingest", ev)
	allowed("workflow start", err)

	// Cluster membership.
	local, err := coord.NewLocal(&coord.Options{Guard: az.Guard})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close(context.Background())
	denied("add node", coord.AddNode(reader, local, 2, "127.0.0.1:7002"))
	allowed("add node", coord.AddNode(admin, local, 2, "127.0.0.1:7002"))
	denied("remove node", coord.RemoveNode(reader, local, 2))
	denied("add node by a tenant's admin", coord.AddNode(tenantAdmin, local, 3, "127.0.0.1:7003"))
	denied("remove node by a tenant's admin", coord.RemoveNode(tenantAdmin, local, 2))

	// The policy itself, and any other Guard target.
	denied("SetPolicy by a tenant's admin", az.SetPolicy(tenantAdmin, nil))
	denied("Guard by a tenant's admin", az.Guard(tenantAdmin, "anything", func() error { return nil }))
	allowed("Guard", az.Guard(admin, "anything", func() error { return nil }))

	if err := trail.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The Open record, 16 decisions (5 admin refusals to a reader, 6 to
	// a tenant's admin, 4 admin grants, 1 workflow refusal) and the final
	// checkpoint.
	if rep.Records != 18 {
		t.Errorf("audit trail holds %d records, want 18", rep.Records)
	}
	// Each refusal of the tenant's admin is in the trail.
	recs := 0
	for _, r := range readTrail(t, path) {
		if r.Tenant == "acme" && r.Kind == audit.Admin && !r.Allowed {
			recs++
		}
	}
	if recs != 6 {
		t.Errorf("%d refusals of the tenant's admin audited, want 6", recs)
	}
}

// readTrail decodes every record of the audit file at path.
func readTrail(t *testing.T, path string) []*audit.Record {
	t.Helper()
	s, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []*audit.Record
	err = s.Records(func(raw []byte) error {
		r, err := audit.Decode(raw)
		out = append(out, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
