package filter

import (
	"reflect"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"

	"github.com/vexfs/semevent"
)

// The closure compiler turns the checked expr syntax tree of the common
// conditions into Go closures over the event. Each compile function
// returns ok=false for a node it does not cover, and the whole condition
// then runs on the VM. Semantics follow the expr VM exactly; the
// differential fuzz test (FuzzExprDifferential) holds the two paths
// together.

type (
	boolFn func(ev *semevent.Event) bool
	intFn  func(ev *semevent.Event) int
	strFn  func(ev *semevent.Event) string
)

func kindOf(n ast.Node) reflect.Kind {
	t := n.Type()
	if t == nil {
		return reflect.Invalid
	}
	return t.Kind()
}

func compileBool(n ast.Node) (boolFn, bool) {
	if kindOf(n) != reflect.Bool {
		return nil, false
	}
	switch n := n.(type) {
	case *ast.BoolNode:
		v := n.Value
		return func(*semevent.Event) bool { return v }, true
	case *ast.UnaryNode:
		if n.Operator != "!" && n.Operator != "not" {
			return nil, false
		}
		f, ok := compileBool(n.Node)
		if !ok {
			return nil, false
		}
		return func(ev *semevent.Event) bool { return !f(ev) }, true
	case *ast.BinaryNode:
		return compileBinary(n)
	case *ast.ConditionalNode:
		c, ok1 := compileBool(n.Cond)
		a, ok2 := compileBool(n.Exp1)
		b, ok3 := compileBool(n.Exp2)
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		return func(ev *semevent.Event) bool {
			if c(ev) {
				return a(ev)
			}
			return b(ev)
		}, true
	case *ast.CallNode:
		key, ok := attrCall(n, "HasAttr")
		if !ok {
			return nil, false
		}
		return func(ev *semevent.Event) bool { _, ok := ev.Attr(key); return ok }, true
	}
	return nil, false
}

// attrCall recognises name("constant").
func attrCall(n *ast.CallNode, name string) (string, bool) {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || id.Value != name || len(n.Arguments) != 1 {
		return "", false
	}
	s, ok := n.Arguments[0].(*ast.StringNode)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func compileBinary(n *ast.BinaryNode) (boolFn, bool) {
	switch n.Operator {
	case "&&", "and":
		a, ok1 := compileBool(n.Left)
		b, ok2 := compileBool(n.Right)
		if !ok1 || !ok2 {
			return nil, false
		}
		return func(ev *semevent.Event) bool { return a(ev) && b(ev) }, true
	case "||", "or":
		a, ok1 := compileBool(n.Left)
		b, ok2 := compileBool(n.Right)
		if !ok1 || !ok2 {
			return nil, false
		}
		return func(ev *semevent.Event) bool { return a(ev) || b(ev) }, true
	case "in":
		return compileIn(n)
	case "startsWith", "endsWith", "contains":
		return compileStrOp(n)
	case "matches":
		s, ok := compileStr(n.Left)
		lit, ok2 := n.Right.(*ast.StringNode)
		if !ok || !ok2 {
			return nil, false
		}
		re, err := regexp.Compile(lit.Value)
		if err != nil {
			return nil, false
		}
		return func(ev *semevent.Event) bool { return re.MatchString(s(ev)) }, true
	case "==", "!=", "<", "<=", ">", ">=":
		return compileCompare(n)
	}
	return nil, false
}

func compileStrOp(n *ast.BinaryNode) (boolFn, bool) {
	a, ok1 := compileStr(n.Left)
	if !ok1 {
		return nil, false
	}
	if lit, ok := n.Right.(*ast.StringNode); ok {
		c := lit.Value
		switch n.Operator {
		case "startsWith":
			return func(ev *semevent.Event) bool { return strings.HasPrefix(a(ev), c) }, true
		case "endsWith":
			return func(ev *semevent.Event) bool { return strings.HasSuffix(a(ev), c) }, true
		default:
			return func(ev *semevent.Event) bool { return strings.Contains(a(ev), c) }, true
		}
	}
	b, ok2 := compileStr(n.Right)
	if !ok2 {
		return nil, false
	}
	switch n.Operator {
	case "startsWith":
		return func(ev *semevent.Event) bool { return strings.HasPrefix(a(ev), b(ev)) }, true
	case "endsWith":
		return func(ev *semevent.Event) bool { return strings.HasSuffix(a(ev), b(ev)) }, true
	default:
		return func(ev *semevent.Event) bool { return strings.Contains(a(ev), b(ev)) }, true
	}
}

func compileIn(n *ast.BinaryNode) (boolFn, bool) {
	arr, ok := n.Right.(*ast.ArrayNode)
	if !ok {
		return nil, false
	}
	switch kindOf(n.Left) {
	case reflect.String:
		s, ok := compileStr(n.Left)
		if !ok {
			return nil, false
		}
		set := make(map[string]struct{}, len(arr.Nodes))
		list := make([]string, 0, len(arr.Nodes))
		for _, e := range arr.Nodes {
			lit, ok := e.(*ast.StringNode)
			if !ok {
				return nil, false
			}
			set[lit.Value] = struct{}{}
			list = append(list, lit.Value)
		}
		if len(list) <= 8 {
			return func(ev *semevent.Event) bool {
				v := s(ev)
				for _, c := range list {
					if v == c {
						return true
					}
				}
				return false
			}, true
		}
		return func(ev *semevent.Event) bool { _, ok := set[s(ev)]; return ok }, true
	case reflect.Int:
		i, ok := compileInt(n.Left)
		if !ok {
			return nil, false
		}
		list := make([]int, 0, len(arr.Nodes))
		for _, e := range arr.Nodes {
			lit, ok := e.(*ast.IntegerNode)
			if !ok || kindOf(e) != reflect.Int {
				return nil, false
			}
			list = append(list, lit.Value)
		}
		return func(ev *semevent.Event) bool {
			v := i(ev)
			for _, c := range list {
				if v == c {
					return true
				}
			}
			return false
		}, true
	}
	return nil, false
}

func compileCompare(n *ast.BinaryNode) (boolFn, bool) {
	lk, rk := kindOf(n.Left), kindOf(n.Right)
	if lk != rk {
		return nil, false
	}
	switch lk {
	case reflect.Int:
		return compileIntCompare(n)
	case reflect.String:
		return compileStrCompare(n)
	case reflect.Bool:
		if n.Operator != "==" && n.Operator != "!=" {
			return nil, false
		}
		a, ok1 := compileBool(n.Left)
		b, ok2 := compileBool(n.Right)
		if !ok1 || !ok2 {
			return nil, false
		}
		if n.Operator == "==" {
			return func(ev *semevent.Event) bool { return a(ev) == b(ev) }, true
		}
		return func(ev *semevent.Event) bool { return a(ev) != b(ev) }, true
	}
	return nil, false
}

func compileIntCompare(n *ast.BinaryNode) (boolFn, bool) {
	a, ok1 := compileInt(n.Left)
	if !ok1 {
		return nil, false
	}
	if lit, ok := n.Right.(*ast.IntegerNode); ok {
		return compareConst[int](n.Operator, a, lit.Value), true
	}
	b, ok2 := compileInt(n.Right)
	if !ok2 {
		return nil, false
	}
	return compare[int](n.Operator, a, b), true
}

func compileStrCompare(n *ast.BinaryNode) (boolFn, bool) {
	// Kind == "write" compares the kind number, not its name.
	if id, ok := n.Left.(*ast.IdentifierNode); ok && id.Value == "Kind" && (n.Operator == "==" || n.Operator == "!=") {
		if lit, ok := n.Right.(*ast.StringNode); ok {
			for _, k := range semevent.Kinds() {
				if k.String() == lit.Value {
					if n.Operator == "==" {
						return func(ev *semevent.Event) bool { return ev.Kind == k }, true
					}
					return func(ev *semevent.Event) bool { return ev.Kind != k }, true
				}
			}
		}
	}
	a, ok1 := compileStr(n.Left)
	if !ok1 {
		return nil, false
	}
	if lit, ok := n.Right.(*ast.StringNode); ok {
		return compareConst[string](n.Operator, a, lit.Value), true
	}
	b, ok2 := compileStr(n.Right)
	if !ok2 {
		return nil, false
	}
	return compare[string](n.Operator, a, b), true
}

// compareConst compiles a(ev) op c for one of == != < <= > >=.
func compareConst[T int | string](op string, a func(*semevent.Event) T, c T) boolFn {
	switch op {
	case "==":
		return func(ev *semevent.Event) bool { return a(ev) == c }
	case "!=":
		return func(ev *semevent.Event) bool { return a(ev) != c }
	case "<":
		return func(ev *semevent.Event) bool { return a(ev) < c }
	case "<=":
		return func(ev *semevent.Event) bool { return a(ev) <= c }
	case ">":
		return func(ev *semevent.Event) bool { return a(ev) > c }
	default:
		return func(ev *semevent.Event) bool { return a(ev) >= c }
	}
}

// compare compiles a(ev) op b(ev) for one of == != < <= > >=.
func compare[T int | string](op string, a, b func(*semevent.Event) T) boolFn {
	switch op {
	case "==":
		return func(ev *semevent.Event) bool { return a(ev) == b(ev) }
	case "!=":
		return func(ev *semevent.Event) bool { return a(ev) != b(ev) }
	case "<":
		return func(ev *semevent.Event) bool { return a(ev) < b(ev) }
	case "<=":
		return func(ev *semevent.Event) bool { return a(ev) <= b(ev) }
	case ">":
		return func(ev *semevent.Event) bool { return a(ev) > b(ev) }
	default:
		return func(ev *semevent.Event) bool { return a(ev) >= b(ev) }
	}
}

func compileInt(n ast.Node) (intFn, bool) {
	if kindOf(n) != reflect.Int {
		return nil, false
	}
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := n.Value
		return func(*semevent.Event) int { return v }, true
	case *ast.IdentifierNode:
		f, ok := intFields[n.Value]
		if !ok {
			return nil, false
		}
		return f.get, true
	case *ast.UnaryNode:
		a, ok := compileInt(n.Node)
		if !ok {
			return nil, false
		}
		switch n.Operator {
		case "-":
			return func(ev *semevent.Event) int { return -a(ev) }, true
		case "+":
			return a, true
		}
	case *ast.BinaryNode:
		a, ok1 := compileInt(n.Left)
		b, ok2 := compileInt(n.Right)
		if !ok1 || !ok2 {
			return nil, false
		}
		switch n.Operator {
		case "+":
			return func(ev *semevent.Event) int { return a(ev) + b(ev) }, true
		case "-":
			return func(ev *semevent.Event) int { return a(ev) - b(ev) }, true
		case "*":
			return func(ev *semevent.Event) int { return a(ev) * b(ev) }, true
		}
	case *ast.BuiltinNode:
		if n.Name != "len" || len(n.Arguments) != 1 {
			return nil, false
		}
		s, ok := compileStr(n.Arguments[0])
		if !ok {
			return nil, false
		}
		return func(ev *semevent.Event) int { return utf8.RuneCountInString(s(ev)) }, true
	}
	return nil, false
}

func compileStr(n ast.Node) (strFn, bool) {
	if kindOf(n) != reflect.String {
		return nil, false
	}
	switch n := n.(type) {
	case *ast.StringNode:
		v := n.Value
		return func(*semevent.Event) string { return v }, true
	case *ast.IdentifierNode:
		f, ok := strFields[n.Value]
		if !ok {
			return nil, false
		}
		return f.get, true
	case *ast.CallNode:
		key, ok := attrCall(n, "Attr")
		if !ok {
			return nil, false
		}
		return func(ev *semevent.Event) string { v, _ := ev.Attr(key); return v }, true
	}
	return nil, false
}
