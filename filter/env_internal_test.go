package filter

import (
	"reflect"
	"testing"
)

// TestVMEnvMatchesEnv: the VM's environment offers exactly what the
// documented Env offers (the same exported fields of the same types, and
// Attr and HasAttr with Env's signatures), so a condition that type-checks
// against Env runs the same on the VM.
func TestVMEnvMatchesEnv(t *testing.T) {
	env, vmt := reflect.TypeFor[Env](), reflect.TypeFor[vmEnv]()
	want := map[string]reflect.Type{}
	for f := range env.Fields() {
		if f.IsExported() {
			want[f.Name] = f.Type
		}
	}
	for m := range reflect.TypeFor[*Env]().Methods() {
		want[m.Name] = reflect.FuncOf(
			[]reflect.Type{m.Type.In(1)}, []reflect.Type{m.Type.Out(0)}, false)
	}
	got := map[string]reflect.Type{}
	for f := range vmt.Fields() {
		got[f.Name] = f.Type
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vmEnv offers %v, Env offers %v", got, want)
	}
	if n := reflect.TypeFor[*vmEnv]().NumMethod(); n != 0 {
		t.Errorf("*vmEnv has %d methods: expr would look each field up by name", n)
	}
}
