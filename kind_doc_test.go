package semevent_test

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

var updateKindDocs = flag.Bool("update-kind-docs", false, "rewrite the \"Expr name …, topic ….\" line of every Kind constant's doc in kind.go from the kind tables")

var kindDocLine = regexp.MustCompile(`(?m)^\tExpr name "([^"]*)", topic "([^"]*)"\.$`)

// kindDoc is the line every Kind constant's doc ends with, made from the
// real tables: Kind.String (the name expr conditions compare Kind with)
// and Kind.Topic.
func kindDoc(k semevent.Kind) string {
	return fmt.Sprintf("Expr name %q, topic %q.", k.String(), k.Topic())
}

// TestKindDocs fails when a Kind constant's doc comment does not end with
// its expr name and topic as the tables give them, or when the expr name
// is not what a filter condition sees. Run
// `go test -run TestKindDocs -update-kind-docs .` after changing a kind's
// name or topic to regenerate the lines.
func TestKindDocs(t *testing.T) {
	src, err := os.ReadFile("kind.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "kind.go", src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	// The constants are declared with iota: the i-th of the block that
	// starts with KindUnknown is Kind(i).
	seen := 0
	var edits []edit
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		if first := gd.Specs[0].(*ast.ValueSpec); first.Names[0].Name != "KindUnknown" {
			continue
		}
		for i, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			name := vs.Names[0].Name
			k := semevent.Kind(i)
			if !k.Valid() {
				break
			}
			seen++
			want := kindDoc(k)
			if vs.Doc == nil {
				t.Errorf("%s has no doc comment; want one ending %q", name, want)
				continue
			}
			last := vs.Doc.List[len(vs.Doc.List)-1]
			got := strings.TrimPrefix(last.Text, "// ")
			if got == want {
				continue
			}
			if !kindDocLine.MatchString("\t" + got) {
				t.Errorf("%s's doc ends %q; want a last line %q", name, got, want)
				continue
			}
			edits = append(edits, edit{fset.Position(last.Pos()).Offset, fset.Position(last.End()).Offset, "// " + want})
			if !*updateKindDocs {
				t.Errorf("%s's doc says %q; the tables say %q (run with -update-kind-docs)", name, got, want)
			}
		}
	}
	if seen != len(semevent.Kinds()) {
		t.Errorf("found %d Kind constants with a table entry in kind.go, want %d", seen, len(semevent.Kinds()))
	}
	if *updateKindDocs && len(edits) > 0 {
		for i := len(edits) - 1; i >= 0; i-- {
			e := edits[i]
			src = append(src[:e.from:e.from], append([]byte(e.text), src[e.to:]...)...)
		}
		if err := os.WriteFile("kind.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The expr name is what a condition compares Kind with, and the topic
	// is what it sees as Topic for an event without one.
	for _, k := range semevent.Kinds() {
		cond := fmt.Sprintf("Kind == %q && Topic == %q", k.String(), k.Topic())
		x, err := filter.Compile(cond, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !x.Match(&semevent.Event{Kind: k}) {
			t.Errorf("%v: condition %s does not match an event of that kind", k, cond)
		}
	}
}

type edit struct {
	from, to int
	text     string
}
