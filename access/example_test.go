package access_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/propagation"
)

func Example() {
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}, Topics: []string{"fs.>"}}}},
		{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Paths: []string{"/data/**"}}}},
	}}, nil)
	if err != nil {
		panic(err)
	}
	bus, _ := propagation.New(&propagation.Options{Authorizer: az})
	alice := &access.Principal{User: "alice", Tenant: "acme", Roles: []string{"reader"}}
	var seen []string // appended by the subscription's one worker, read after Close
	bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		seen = append(seen, ev.Tenant+" "+ev.Path)
		return nil
	}), &propagation.SubscribeOptions{Principal: alice})

	for _, tenant := range []string{"acme", "globex"} {
		writer := &access.Principal{User: "ingest", Tenant: tenant, Roles: []string{"writer"}}
		ctx := access.WithPrincipal(context.Background(), writer)
		bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Tenant: tenant, Path: "/data/report"})
		err := bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Tenant: tenant, Path: "/etc/passwd"})
		fmt.Println("publish to /etc denied:", errors.Is(err, access.ErrDenied))
	}
	bus.Close(context.Background()) // delivers everything first
	fmt.Println("alice saw", seen)
	// Output:
	// publish to /etc denied: true
	// publish to /etc denied: true
	// alice saw [acme /data/report]
}
