package filter

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/vexfs/semevent"
)

// ExprOptions configure [Compile]. A nil *ExprOptions means defaults.
type ExprOptions struct {
	// VMOnly skips the closure compiler and always runs the expr VM. Tests
	// and benchmarks use it to compare the two paths.
	VMOnly bool
	// MaxNodes bounds the size of the expression's syntax tree.
	// Default 1000.
	MaxNodes int
}

// DefaultMaxNodes is the default [ExprOptions.MaxNodes].
const DefaultMaxNodes = 1000

// Validate lists every problem in o.
func (o *ExprOptions) Validate() error {
	p := &semevent.OptionsError{Options: "filter.ExprOptions"}
	if o != nil && o.MaxNodes < 0 {
		p.Addf("MaxNodes", "%d is negative", o.MaxNodes)
	}
	return p.Err()
}

// Expr is a compiled expr condition. It is immutable and safe for
// concurrent use.
type Expr struct {
	src     string
	prog    *vm.Program
	fn      func(ev *semevent.Event) bool // nil: run the VM
	fields  FieldSet
	vmState sync.Pool // of *vmState
}

var _ Filter = (*Expr)(nil)

// Compile compiles an expr condition over [Env], the event's fields by name,
// such as
//
//	Kind == "write" && Size > 4096 && Path startsWith "/data/"
//
// Conditions made of field comparisons, boolean logic, startsWith,
// endsWith, contains, matches (with a constant pattern), in (with a
// constant list), len, integer + - * and Attr/HasAttr are compiled into
// plain Go closures; anything else runs on the expr VM. A syntax or type
// error, and an expression that does not return bool, yield an
// *[ExprError] with its position; Compile never panics.
func Compile(src string, opts *ExprOptions) (x *Expr, err error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o ExprOptions
	if opts != nil {
		o = *opts
	}
	if o.MaxNodes == 0 {
		o.MaxNodes = DefaultMaxNodes
	}
	defer func() {
		if r := recover(); r != nil {
			x, err = nil, &ExprError{Expr: src, Line: 1, Column: 1, Msg: fmt.Sprintf("compiler panic: %v", r)}
		}
	}()
	envOpt := expr.Env(&Env{})
	tree, err := expr.Compile(src, envOpt, expr.Optimize(false), expr.MaxNodes(uint(o.MaxNodes)))
	if err != nil {
		return nil, exprError(src, err)
	}
	root := tree.Node()
	if t := root.Type(); t == nil || t.Kind() != reflect.Bool {
		return nil, &ExprError{Expr: src, Line: 1, Column: 1, Msg: fmt.Sprintf("returns %v, want bool", t), Err: ErrNotBool}
	}
	x = &Expr{src: src, fields: readFields(root)}
	if !o.VMOnly {
		if fn, ok := compileBool(root); ok {
			// The closures cover the condition: no VM program is kept
			// (it held the syntax tree and the bytecode, about 1 KB per
			// condition; see TestDistinctExprRulesMemory in
			// automation/rules).
			x.fn = fn
			return x, nil
		}
	}
	// The program runs against vmEnv (see there); the tree above was
	// checked against Env, whose fields and functions vmEnv has too.
	prog, err := expr.Compile(src, expr.Env(vmEnv{}), expr.AsBool(), expr.MaxNodes(uint(o.MaxNodes)))
	if err != nil {
		return nil, exprError(src, err)
	}
	x.prog = prog
	x.vmState.New = func() any { return newVMState() }
	return x, nil
}

// MustCompile is Compile for conditions known to be valid; it panics on
// error.
func MustCompile(src string) *Expr {
	x, err := Compile(src, nil)
	if err != nil {
		panic(err)
	}
	return x
}

// exprError converts an error from the expr compiler into an *ExprError.
func exprError(src string, err error) error {
	e := &ExprError{Expr: src, Line: 1, Column: 1, Msg: err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Msg = fe.Message
		e.Line = max(fe.Line, 1)
		e.Column = fe.Column + 1
		e.Pos = runeToByte(src, fe.From)
	}
	return e
}

func runeToByte(s string, r int) int {
	n := 0
	for i := range s {
		if n == r {
			return i
		}
		n++
	}
	_ = utf8.RuneLen
	return len(s)
}

// Match reports whether ev satisfies the condition. A run-time error on the
// VM path (there are none on the closure path) counts as false.
func (x *Expr) Match(ev *semevent.Event) bool {
	if x.fn != nil {
		return x.fn(ev)
	}
	return x.runVM(ev)
}

func (x *Expr) runVM(ev *semevent.Event) bool {
	s := x.vmState.Get().(*vmState)
	s.set(ev)
	out, err := s.vm.Run(x.prog, &s.env)
	s.clear()
	x.vmState.Put(s)
	b, _ := out.(bool)
	return err == nil && b
}

// Closure reports whether the condition runs as compiled Go closures rather
// than on the expr VM.
func (x *Expr) Closure() bool { return x.fn != nil }

// String returns the source of the condition.
func (x *Expr) String() string { return x.src }

// Fields returns the fields of the event the condition reads.
func (x *Expr) Fields() FieldSet { return x.fields }

type fieldVisitor struct{ s FieldSet }

func (v *fieldVisitor) Visit(n *ast.Node) {
	id, ok := (*n).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if f, ok := intFields[id.Value]; ok {
		v.s |= f.bit
	} else if f, ok := strFields[id.Value]; ok {
		v.s |= f.bit
	} else if id.Value == "Attr" || id.Value == "HasAttr" {
		v.s |= FieldAttrs
	}
}

func readFields(root ast.Node) FieldSet {
	v := &fieldVisitor{}
	ast.Walk(&root, v)
	return v.s
}
