package filter

import (
	"strings"
	"testing"
)

// TestVMLoadsFieldsByIndex (issue 15 item 6): on the VM path, every field
// and Attr is loaded by its index in the environment (OpLoadField), not
// looked up by name at run time (OpLoadConst, which makes expr call
// reflect.Value.MethodByName and a sync.Map lookup per access when the
// environment has methods).
func TestVMLoadsFieldsByIndex(t *testing.T) {
	for _, src := range []string{
		`Size % 7 == 2 || Path startsWith "/data/" && Size / 2 > 100`,
		`Inode % 2 == 0 && Kind == "write" && HasAttr("x") && Attr("y") == Tenant + Topic`,
	} {
		x := MustCompile(src)
		dis := x.prog.Disassemble()
		if strings.Contains(dis, "OpLoadConst") || !strings.Contains(dis, "OpLoadField") {
			t.Errorf("%#q: the VM looks fields up by name:\n%s", src, dis)
		}
	}
}

// TestClosureExprKeepsNoProgram (issue 15 item 3): a condition the
// closure compiler covers keeps no VM program (the program held the
// syntax tree and the bytecode, ~1 KB per condition); one it does not
// cover, or compiled with VMOnly, keeps one.
func TestClosureExprKeepsNoProgram(t *testing.T) {
	cases := []struct {
		src    string
		opts   *ExprOptions
		wantVM bool
	}{
		{`Path startsWith "/data/1/" && Size > 1`, nil, false},
		{`Path startsWith "/data/1/" && Size > 1`, &ExprOptions{VMOnly: true}, true},
		{`Size % 7 == 2`, nil, true},
	}
	for _, tc := range cases {
		x, err := Compile(tc.src, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := x.prog != nil; got != tc.wantVM || x.Closure() == tc.wantVM {
			t.Errorf("Compile(%#q, %+v): program kept %v, closure %v; want program %v", tc.src, tc.opts, got, x.Closure(), tc.wantVM)
		}
	}
}
