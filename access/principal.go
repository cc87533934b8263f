package access

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Principal is who asks: a user, the roles granted to them and, for a
// tenant's user, the tenant. Principals travel in a context.Context.
//
// A principal is read when it is used, never kept: [Authorizer.Authorize]
// and [Authorizer.Check] decide on its fields as they are at the call, and
// [Authorizer.Checker] (one per bus subscription) takes a copy, so a
// subscription keeps the roles its principal had when it subscribed:
// changing Roles in place afterwards has no effect on it (subscribe again
// to change them). Do not modify a principal while another goroutine uses
// it.
type Principal struct {
	User   string
	UID    uint32
	Tenant string // a tenant's user sees only that tenant's events; "" for operators
	Roles  []string
}

// Clone returns a deep copy of p (nil for nil).
func (p *Principal) Clone() *Principal {
	if p == nil {
		return nil
	}
	c := *p
	c.Roles = slices.Clone(p.Roles)
	return &c
}

// equal reports whether p and q have the same fields.
func (p *Principal) equal(q *Principal) bool {
	return p.User == q.User && p.UID == q.UID && p.Tenant == q.Tenant && slices.Equal(p.Roles, q.Roles)
}

// TenantName returns the tenant p is bound to, "" for an operator or a
// nil principal. It makes *Principal a propagation.TenantNamer, so that the
// bus scopes a replaying subscription's consumer name to p's tenant.
func (p *Principal) TenantName() string {
	if p == nil {
		return ""
	}
	return p.Tenant
}

// HasRole reports whether p has the named role.
func (p *Principal) HasRole(role string) bool { return slices.Contains(p.Roles, role) }

func (p *Principal) String() string {
	if p == nil {
		return "<no principal>"
	}
	s := p.User
	if p.Tenant != "" {
		s += "@" + p.Tenant
	}
	return fmt.Sprintf("%s[%s]", s, strings.Join(p.Roles, ","))
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx carries.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// Op is an operation a principal may be granted.
type Op uint8

const (
	OpPublish     Op = 1 << iota // publish events
	OpSubscribe                  // receive events from the live stream
	OpReplay                     // read events from the journal
	OpAdmin                      // change policies, reload rules and workflows, change cluster membership
	OpRunWorkflow                // start workflows
)

var opNames = []struct {
	op   Op
	name string
}{{OpPublish, "publish"}, {OpSubscribe, "subscribe"}, {OpReplay, "replay"}, {OpAdmin, "admin"}, {OpRunWorkflow, "run"}}

func (o Op) String() string {
	for _, n := range opNames {
		if n.op == o {
			return n.name
		}
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// ParseOp returns the operation named s ("publish", "subscribe", "replay",
// "admin", "run").
func ParseOp(s string) (Op, error) {
	for _, n := range opNames {
		if n.name == s {
			return n.op, nil
		}
	}
	return 0, fmt.Errorf("access: unknown operation %q", s)
}

// MarshalText implements encoding.TextMarshaler.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (o *Op) UnmarshalText(b []byte) error {
	v, err := ParseOp(string(b))
	*o = v
	return err
}
