package cep_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/automationtest"
	"github.com/vexfs/semevent/automation/cep"
)

// TestCEPTenantIsolation is issue 18 item 4: events of two tenants on the
// same path never complete, advance or cancel each other's matches, with
// the default key and with a KeyFunc that leaves the tenant out.
func TestCEPTenantIsolation(t *testing.T) {
	noTenant := func(ev *semevent.Event) semevent.Key { return semevent.Key{S: ev.Path} }
	for name, key := range map[string]semevent.KeyFunc{"default": nil, "PathKey": semevent.PathKey, "no-tenant": noTenant} {
		t.Run(name, func(t *testing.T) {
			pub := &automationtest.Publisher{}
			e, err := cep.New([]cep.Pattern{
				&cep.Sequence{Name: "create-then-delete", Key: key, Stages: []cep.Stage{{Kind: semevent.KindFileCreate}, {Kind: semevent.KindFileDelete}}, Within: time.Minute},
				&cep.Absence{Name: "unacked", Key: key, First: cep.Stage{Kind: semevent.KindFileCreate}, Then: cep.Stage{Kind: semevent.KindFileClose}, Within: time.Second},
			}, &cep.Options{Publisher: pub})
			require.NoError(t, err)
			ctx := context.Background()
			ids := semevent.NewIDGenerator(1)
			t0 := time.Now().UnixNano()
			ev := func(tenant string, k semevent.Kind, dt time.Duration) *semevent.Event {
				return &semevent.Event{ID: ids.Next(), Kind: k, Tenant: tenant, Path: "/shared/f", Time: t0 + int64(dt)}
			}
			acmeCreate := ev("acme", semevent.KindFileCreate, 0)
			require.NoError(t, e.Handle(ctx, acmeCreate))
			// globex deletes and closes the same path: neither completes
			// acme's sequence nor acknowledges acme's create.
			require.NoError(t, e.Handle(ctx, ev("globex", semevent.KindFileDelete, time.Millisecond)))
			require.NoError(t, e.Handle(ctx, ev("globex", semevent.KindFileClose, 2*time.Millisecond)))
			require.NoError(t, e.Advance(ctx, t0+int64(2*time.Second)))
			ms := pub.Events()
			require.Len(t, ms, 1, "only acme's unacknowledged create fires")
			name, _ := ms[0].Attr(cep.AttrPattern)
			require.Equal(t, "unacked", name)
			require.Equal(t, "acme", ms[0].Tenant)
			require.Equal(t, acmeCreate.ID, ms[0].Cause)
			k, _ := ms[0].Attr(cep.AttrKey)
			require.Equal(t, "acme//shared/f", k)
		})
	}
}
