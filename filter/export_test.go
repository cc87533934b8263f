package filter

import (
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/vexfs/semevent"
)

// Test hooks: the differential tests and benchmarks compare the closure
// path with the expr VM.

// NewEnv returns the documented environment, Env, for ev: the reference
// that the differential tests run raw expr against.
func NewEnv(ev *semevent.Event) *Env {
	e := new(Env)
	e.set(ev)
	return e
}

// MatchVM evaluates the condition on the expr VM even when it was compiled
// to closures (which keep no program: a VMOnly twin is compiled once).
func (x *Expr) MatchVM(ev *semevent.Event) bool { return x.vmTwin().runVM(ev) }

// Program returns the expr program the VM path runs (against vmEnv).
func (x *Expr) Program() *vm.Program { return x.vmTwin().prog }

var vmTwins sync.Map // *Expr → *Expr compiled with VMOnly

func (x *Expr) vmTwin() *Expr {
	if x.prog != nil {
		return x
	}
	if y, ok := vmTwins.Load(x); ok {
		return y.(*Expr)
	}
	y, err := Compile(x.src, &ExprOptions{VMOnly: true})
	if err != nil {
		panic(err)
	}
	vmTwins.Store(x, y)
	return y
}

// RawProgram compiles the condition with raw expr against the documented
// Env, as a user of expr alone would, for expr.Run(RawProgram(), NewEnv(ev)).
func (x *Expr) RawProgram() *vm.Program {
	prog, err := expr.Compile(x.src, expr.Env(&Env{}), expr.AsBool())
	if err != nil {
		panic(err)
	}
	return prog
}

func (e *Env) set(ev *semevent.Event) {
	*e = Env{
		Kind:     ev.Kind.String(),
		Boundary: ev.Boundary.String(),
		Priority: int(ev.Priority),
		Topic:    ev.TopicOrKind(),
		Tenant:   ev.Tenant,
		Path:     ev.Path,
		OldPath:  ev.OldPath,
		Inode:    int(ev.Inode),
		PID:      int(ev.PID),
		UID:      int(ev.UID),
		GID:      int(ev.GID),
		Offset:   int(ev.Offset),
		Size:     int(ev.Size),
		Time:     int(ev.Time),
		Data:     bytesString(ev.Data),
		ev:       ev,
	}
}
