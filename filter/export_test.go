package filter

import (
	"github.com/expr-lang/expr/vm"

	"github.com/vexfs/semevent"
)

// Test hooks: the differential tests and benchmarks compare the closure
// path with the expr VM.

// NewEnv returns the environment for ev.
func NewEnv(ev *semevent.Event) *Env {
	e := new(Env)
	e.set(ev)
	return e
}

// MatchVM evaluates the condition on the expr VM even when it was compiled
// to closures.
func (x *Expr) MatchVM(ev *semevent.Event) bool { return x.runVM(ev) }

// Program returns the expr program the VM path runs.
func (x *Expr) Program() *vm.Program { return x.prog }
