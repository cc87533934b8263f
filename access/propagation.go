package access

import (
	"context"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

// Authorizer is the access control of a propagation bus:
// propagation.Options.Authorizer takes it.
var _ propagation.Authorizer = (*Authorizer)(nil)

// CheckPublish decides whether the principal ctx carries may publish ev
// (OpPublish); it is what a propagation bus calls for every publish.
func (a *Authorizer) CheckPublish(ctx context.Context, ev *semevent.Event) error {
	return a.Check(ctx, OpPublish, ev)
}

// SubscribeChecker refuses a principal who could never receive anything
// (see Permits) and otherwise returns its [Checker] for OpSubscribe, or
// OpReplay when replay is true. principal must be a *Principal (nil is
// refused): it is what a propagation bus passes from
// propagation.SubscribeOptions.Principal.
func (a *Authorizer) SubscribeChecker(principal any, replay bool) (propagation.EventChecker, error) {
	var p *Principal
	switch v := principal.(type) {
	case nil:
	case *Principal:
		p = v
	default:
		return nil, fmt.Errorf("access: subscriber principal is a %T, want *access.Principal: %w", principal, ErrNoPrincipal)
	}
	op := OpSubscribe
	if replay {
		op = OpReplay
	}
	if err := a.Permits(p, op); err != nil {
		return nil, err
	}
	return a.Checker(p, op), nil
}

var _ propagation.PrincipalBinder = (*Authorizer)(nil)

// BindPrincipal returns ctx carrying principal, which must be a
// *Principal: a propagation bus calls it once for its
// Options.RemotePrincipal, then checks every event from another node with
// CheckPublish under that ctx.
func (a *Authorizer) BindPrincipal(ctx context.Context, principal any) (context.Context, error) {
	p, ok := principal.(*Principal)
	if !ok || p == nil {
		return nil, fmt.Errorf("access: principal is a %T, want a non-nil *access.Principal: %w", principal, ErrNoPrincipal)
	}
	return WithPrincipal(ctx, p), nil
}
