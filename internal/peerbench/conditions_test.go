package peerbench

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/interpreter"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

// The condition every contender evaluates, in each one's language.
const (
	condExpr = `Kind == "write" && Size > 4096 && Path startsWith "/data/"`
	condCEL  = `kind == "write" && size > 4096 && path.startsWith("/data/")`
)

// condEvents returns m events of which about a third match the condition,
// the others failing it on the kind, the size or the path.
func condEvents(m int) []*semevent.Event {
	r := rand.New(rand.NewPCG(3, 4))
	kinds := []semevent.Kind{semevent.KindFileWrite, semevent.KindFileWrite, semevent.KindFileRead, semevent.KindFileCreate}
	roots := []string{"/data/", "/data/", "/srv/"}
	evs := make([]*semevent.Event, m)
	for i := range evs {
		evs[i] = &semevent.Event{
			Kind: kinds[r.IntN(len(kinds))],
			Path: roots[r.IntN(len(roots))] + "logs/app.log",
			Size: r.Int64N(3 * 4096),
		}
	}
	return evs
}

// handWritten is the condition as a Go closure.
func handWritten(ev *semevent.Event) bool {
	return ev.Kind == semevent.KindFileWrite && ev.Size > 4096 && strings.HasPrefix(ev.Path, "/data/")
}

// exprEnv is what a user of raw expr would write: a struct filled from
// the event for each evaluation.
type exprEnv struct {
	Kind string
	Size int64
	Path string
}

// celActivation resolves the CEL variables from the event without
// building a map per evaluation.
type celActivation struct{ ev *semevent.Event }

func (a *celActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "kind":
		return a.ev.Kind.String(), true
	case "size":
		return a.ev.Size, true
	case "path":
		return a.ev.Path, true
	}
	return nil, false
}

func (a *celActivation) Parent() interpreter.Activation { return nil }

type condContender struct {
	name string
	note string
	make func(tb testing.TB) func(ev *semevent.Event) bool
}

var condContenders = []condContender{
	{"semevent-typed", "filter.And(Kinds, SizeRange, PathPrefix)", func(tb testing.TB) func(*semevent.Event) bool {
		return filter.And(filter.Kinds(semevent.KindFileWrite), filter.SizeRange(4097, 1<<62), filter.PathPrefix("/data/")).Match
	}},
	{"semevent-expr", "filter.Compile of the expr condition (runs as closures)", func(tb testing.TB) func(*semevent.Event) bool {
		x, err := filter.Compile(condExpr, nil)
		if err != nil {
			tb.Fatal(err)
		}
		if !x.Closure() {
			tb.Fatal("condition did not compile to closures")
		}
		return x.Match
	}},
	{"expr", "expr.Compile with a struct env, filled per event, expr.Run", func(tb testing.TB) func(*semevent.Event) bool {
		prog, err := expr.Compile(condExpr, expr.Env(exprEnv{}), expr.AsBool())
		if err != nil {
			tb.Fatal(err)
		}
		var env exprEnv
		var m vm.VM
		return func(ev *semevent.Event) bool {
			env = exprEnv{Kind: ev.Kind.String(), Size: ev.Size, Path: ev.Path}
			out, err := m.Run(prog, &env)
			return err == nil && out.(bool)
		}
	}},
	{"cel-go", "cel.Program.Eval with an activation that reads the event (no map per call)", func(tb testing.TB) func(*semevent.Event) bool {
		env, err := cel.NewEnv(
			cel.Variable("kind", cel.StringType),
			cel.Variable("size", cel.IntType),
			cel.Variable("path", cel.StringType),
		)
		if err != nil {
			tb.Fatal(err)
		}
		ast, iss := env.Compile(condCEL)
		if iss.Err() != nil {
			tb.Fatal(iss.Err())
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			tb.Fatal(err)
		}
		var act celActivation
		return func(ev *semevent.Event) bool {
			act.ev = ev
			out, _, err := prg.Eval(&act)
			return err == nil && out.Value() == true
		}
	}},
	{"closure", "a hand-written Go function", func(testing.TB) func(*semevent.Event) bool { return handWritten }},
}

const condCycle = 1024

var sinkBool bool

// BenchmarkConditions evaluates the condition over a cycle of 1024
// events, a third of which match.
func BenchmarkConditions(b *testing.B) {
	evs := condEvents(condCycle)
	for _, c := range condContenders {
		b.Run(c.name, func(b *testing.B) {
			f := c.make(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				sinkBool = f(evs[i&(condCycle-1)])
				i++
			}
			reportRate(b, float64(i), "events/s")
		})
	}
}
