package access

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
	"github.com/vexfs/semevent/routing"
)

// Policy is a set of roles. Each role grants or denies operations on
// events selected by topic patterns, path globs and a condition; a
// principal holds roles. A decision takes every grant of the principal's
// roles that applies to the operation and the event: any deny wins, else
// any allow allows, else the answer is deny.
type Policy struct {
	Roles []Role `json:"roles" yaml:"roles"`
}

// Role names a set of grants.
type Role struct {
	Name   string  `json:"name" yaml:"name"`
	Grants []Grant `json:"grants" yaml:"grants"`
}

// Grant allows or denies operations on some events.
type Grant struct {
	// Deny makes the grant deny instead of allow.
	Deny bool `json:"deny,omitempty" yaml:"deny,omitempty"`
	// Ops lists the operations; at least one.
	Ops []Op `json:"ops" yaml:"ops"`
	// Topics are NATS-style patterns over the event's topic
	// ("tenant.*.fs.>"); empty means every topic.
	Topics []string `json:"topics,omitempty" yaml:"topics,omitempty"`
	// Paths are globs over the event's path ("/data/**"); empty means
	// every path.
	Paths []string `json:"paths,omitempty" yaml:"paths,omitempty"`
	// When is an expr condition over `event` (the event's fields by name:
	// event.UID, event.Path, event.Tenant, event.Kind as its short name …)
	// and `principal` (principal.User, principal.UID, principal.Tenant,
	// principal.Roles), e.g. `event.UID == principal.UID || "admin" in
	// principal.Roles`. Empty means always.
	When string `json:"when,omitempty" yaml:"when,omitempty"`
}

// PolicyError lists every problem of a policy; the policy is not used.
type PolicyError struct {
	Problems []*GrantError
}

func (e *PolicyError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return "access: invalid policy: " + strings.Join(msgs, "; ")
}

// Unwrap returns the problems, for errors.As.
func (e *PolicyError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// GrantError is one problem: the role, the grant's index, the field, the
// byte position in the field (or the expr line:column) and the cause.
type GrantError struct {
	Role  string
	Grant int
	Field string
	Pos   int
	Err   error
}

func (e *GrantError) Error() string {
	return fmt.Sprintf("role %q grant %d: %s at %d: %v", e.Role, e.Grant, e.Field, e.Pos, e.Err)
}

func (e *GrantError) Unwrap() error { return e.Err }

// compiled is an immutable compiled policy.
type compiled struct {
	roles map[string][]*grant
}

type grant struct {
	deny   bool
	ops    Op
	topics []*routing.Subject
	paths  []*glob.Glob
	when   *vm.Program
	src    string // "role#i" for reasons

	denyReason, failedReason string // made once, so that a denial does not allocate
}

// condEnv is what a grant's When condition sees.
type condEnv struct {
	Event     eventView  `expr:"event"`
	Principal *Principal `expr:"principal"`
}

type eventView struct {
	Kind     string `expr:"Kind"`
	Topic    string `expr:"Topic"`
	Tenant   string `expr:"Tenant"`
	Path     string `expr:"Path"`
	OldPath  string `expr:"OldPath"`
	UID      uint32 `expr:"UID"`
	GID      uint32 `expr:"GID"`
	PID      uint32 `expr:"PID"`
	Size     int64  `expr:"Size"`
	Priority int    `expr:"Priority"`
	Boundary string `expr:"Boundary"`
}

func viewOf(ev *semevent.Event) eventView {
	return eventView{
		Kind: ev.Kind.String(), Topic: ev.TopicOrKind(), Tenant: ev.Tenant, Path: ev.Path, OldPath: ev.OldPath,
		UID: ev.UID, GID: ev.GID, PID: ev.PID, Size: ev.Size, Priority: int(ev.Priority), Boundary: ev.Boundary.String(),
	}
}

var errNoOps = errors.New("a grant needs at least one operation")

// compile checks every role and grant and compiles them.
func compile(p *Policy) (*compiled, error) {
	c := &compiled{roles: make(map[string][]*grant)}
	var problems []*GrantError
	bad := func(role string, i int, field string, pos int, err error) {
		problems = append(problems, &GrantError{Role: role, Grant: i, Field: field, Pos: pos, Err: err})
	}
	if p == nil {
		return c, nil
	}
	for ri, r := range p.Roles {
		if r.Name == "" {
			bad(fmt.Sprintf("#%d", ri), -1, "Name", 0, errors.New("empty role name"))
			continue
		}
		if _, dup := c.roles[r.Name]; dup {
			bad(r.Name, -1, "Name", 0, errors.New("duplicate role"))
			continue
		}
		gs := []*grant{}
		for gi, g := range r.Grants {
			cg := &grant{deny: g.Deny, src: fmt.Sprintf("%s#%d", r.Name, gi)}
			cg.denyReason = "denied by " + cg.src
			cg.failedReason = "deny condition of " + cg.src + " failed at run time: fail closed"
			for _, op := range g.Ops {
				if op.String() == fmt.Sprintf("Op(%d)", uint8(op)) {
					bad(r.Name, gi, "Ops", 0, fmt.Errorf("unknown operation %d", uint8(op)))
				}
				cg.ops |= op
			}
			if cg.ops == 0 {
				bad(r.Name, gi, "Ops", 0, errNoOps)
			}
			for ti, t := range g.Topics {
				s, err := routing.ParseSubject(t)
				if err != nil {
					var se *routing.SubjectError
					pos := 0
					if errors.As(err, &se) {
						pos = se.Pos
					}
					bad(r.Name, gi, fmt.Sprintf("Topics[%d]", ti), pos, err)
					continue
				}
				cg.topics = append(cg.topics, s)
			}
			for pi, pat := range g.Paths {
				gl, err := glob.Compile(pat)
				if err != nil {
					var ge *glob.Error
					pos := 0
					if errors.As(err, &ge) {
						pos = ge.Pos
					}
					bad(r.Name, gi, fmt.Sprintf("Paths[%d]", pi), pos, err)
					continue
				}
				cg.paths = append(cg.paths, gl)
			}
			if g.When != "" {
				prog, err := expr.Compile(g.When, expr.Env(condEnv{}), expr.AsBool())
				if err != nil {
					pos := 0
					var fe *file.Error
					if errors.As(err, &fe) {
						pos = fe.From
					}
					bad(r.Name, gi, "When", pos, err)
				} else {
					cg.when = prog
				}
			}
			gs = append(gs, cg)
		}
		c.roles[r.Name] = gs
	}
	if len(problems) > 0 {
		return nil, &PolicyError{Problems: problems}
	}
	return c, nil
}

// topicMatch reports whether g applies to topic.
func (g *grant) topicMatch(topic string) bool {
	if len(g.topics) == 0 {
		return true
	}
	for _, s := range g.topics {
		if s.Match(topic) {
			return true
		}
	}
	return false
}

// pathMatch reports whether g applies to path.
func (g *grant) pathMatch(path string) bool {
	if len(g.paths) == 0 {
		return true
	}
	for _, gl := range g.paths {
		if gl.Match(path) {
			return true
		}
	}
	return false
}
