// Secure runs two tenants and an auditor on one bus with access control:
// each tenant's reader sees only its tenant's events, a subscription the
// policy does not allow is refused, a writer forging another tenant's event
// is refused, and every denial lands in a hash-chained, signed audit trail
// that is verified at the end.
//
//	go run ./examples/secure
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/propagation"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "secure:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "semevent-secure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The audit trail: a file, signed with a key the auditor trusts.
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return err
	}
	trail := filepath.Join(dir, "audit.log")
	store, err := audit.OpenFile(trail)
	if err != nil {
		return err
	}
	auditLog, err := audit.New(store, &audit.Options{Key: priv, CheckpointEvery: 16})
	if err != nil {
		return err
	}

	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "reader", Grants: []access.Grant{
			{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>"}},
			{Deny: true, Ops: []access.Op{access.OpSubscribe}, Paths: []string{"/hr/**"}},
		}},
		{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}}}},
		{Name: "auditor", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}}}},
		{Name: "guest"},
	}}, &access.Options{Audit: auditLog})
	if err != nil {
		return err
	}
	bus, err := propagation.New(&propagation.Options{Authorizer: az})
	if err != nil {
		return err
	}

	counts := map[string]map[string]int{} // subscriber → tenant → events
	var mu sync.Mutex
	count := func(name string) semevent.Handler {
		counts[name] = map[string]int{}
		return semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
			mu.Lock()
			counts[name][ev.Tenant]++
			mu.Unlock()
			return nil
		})
	}
	subs := []struct {
		name string
		p    *access.Principal
	}{
		{"acme-reader", &access.Principal{User: "alice", Tenant: "acme", Roles: []string{"reader"}}},
		{"globex-reader", &access.Principal{User: "gary", Tenant: "globex", Roles: []string{"reader"}}},
		{"auditor", &access.Principal{User: "audrey", Roles: []string{"auditor"}}},
		{"guest", &access.Principal{User: "eve", Tenant: "acme", Roles: []string{"guest"}}},
	}
	for _, s := range subs {
		_, err := bus.Subscribe(count(s.name), &propagation.SubscribeOptions{Name: s.name, Principal: s.p})
		switch {
		case errors.Is(err, access.ErrDenied):
			fmt.Printf("subscribe %-13s refused: %v\n", s.name, err)
		case err != nil:
			return err
		default:
			fmt.Printf("subscribe %-13s allowed\n", s.name)
		}
	}

	ctx := context.Background()
	forged := 0
	for i := range 300 {
		tenant := []string{"acme", "globex"}[i%2]
		writer := &access.Principal{User: "ingest-" + tenant, Tenant: tenant, Roles: []string{"writer"}}
		ev := &semevent.Event{Kind: semevent.KindFileWrite, Tenant: tenant, Path: fmt.Sprintf("/data/%s/%d", tenant, i)}
		if i%10 == 0 {
			ev.Path = "/hr/salaries.xlsx"
		}
		if i%50 == 7 {
			ev.Tenant = "acme" // globex's writer forging an acme event
		}
		err := bus.Publish(access.WithPrincipal(ctx, writer), ev)
		if errors.Is(err, access.ErrDenied) {
			forged++
			continue
		}
		if err != nil {
			return err
		}
	}
	if err := bus.Close(ctx); err != nil {
		return err
	}
	fmt.Printf("\npublished 300 events, %d forged ones refused\n", forged)
	for _, s := range subs[:3] {
		fmt.Printf("  %-13s acme %3d  globex %3d\n", s.name, counts[s.name]["acme"], counts[s.name]["globex"])
	}
	for _, ss := range bus.Stats().Subscriptions {
		fmt.Printf("  %-13s kept from it by the policy: %d\n", ss.Name, ss.Denied)
	}

	if err := auditLog.Close(context.Background()); err != nil {
		return err
	}
	// Keep the trail's identity and its head outside the trail: with them
	// a trail swapped for another one of the same key, or cut back, fails.
	id, head := auditLog.Trail(), auditLog.Head()
	rep, err := audit.VerifyFile(trail, pub, &audit.VerifyOptions{Trail: id, Anchor: &head})
	if err != nil {
		return fmt.Errorf("audit trail: %w", err)
	}
	fmt.Printf("\naudit trail: %d records, %d signed checkpoints, chain intact\n", rep.Records, rep.Checkpoints)

	// Tamper with one byte and verify again.
	b, err := os.ReadFile(trail)
	if err != nil {
		return err
	}
	b[len(b)/2] ^= 0x20
	if err := os.WriteFile(trail, b, 0o600); err != nil {
		return err
	}
	if _, err := audit.VerifyFile(trail, pub, nil); err != nil {
		fmt.Println("after flipping one byte:", err)
	} else {
		return errors.New("a tampered trail verified")
	}
	return nil
}
