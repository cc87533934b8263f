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
