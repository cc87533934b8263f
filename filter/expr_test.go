package filter_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/expr-lang/expr"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/filter/filtertest"
)

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src          string
		line, column int
		pos          int
		msg          string
		notBool      bool
	}{
		{`Size >`, 1, 6, 5, "unexpected token EOF", false},
		{`Size > "x"`, 1, 6, 5, "invalid operation", false},
		{`Nope == 1`, 1, 1, 0, "unknown name Nope", false},
		{"Kind == \"write\" &&\n  Siz > 1", 2, 3, 21, "unknown name Siz", false},
		{`Size + 1`, 1, 1, 0, "want bool", true},
		{`Path`, 1, 1, 0, "want bool", true},
		{`é == 1 ||`, 1, 1, 0, "", false},
	}
	for _, tt := range tests {
		_, err := filter.Compile(tt.src, nil)
		var xe *filter.ExprError
		if !errors.As(err, &xe) {
			t.Errorf("Compile(%#q) error = %v, want *ExprError", tt.src, err)
			continue
		}
		if !errors.Is(err, filter.ErrBadExpr) || errors.Is(err, filter.ErrNotBool) != tt.notBool {
			t.Errorf("Compile(%#q) error %v: Is(ErrNotBool) = %v, want %v", tt.src, err, errors.Is(err, filter.ErrNotBool), tt.notBool)
		}
		if tt.msg == "" {
			continue
		}
		if xe.Line != tt.line || xe.Column != tt.column || xe.Pos != tt.pos || !strings.Contains(xe.Msg, tt.msg) {
			t.Errorf("Compile(%#q) = line %d col %d byte %d %q; want line %d col %d byte %d containing %q",
				tt.src, xe.Line, xe.Column, xe.Pos, xe.Msg, tt.line, tt.column, tt.pos, tt.msg)
		}
	}
	if _, err := filter.Compile("true", &filter.ExprOptions{MaxNodes: -1}); !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("MaxNodes -1 accepted: %v", err)
	}
	if _, err := filter.Compile(strings.Repeat("Size > 1 && ", 200)+"true", &filter.ExprOptions{MaxNodes: 50}); !errors.Is(err, filter.ErrBadExpr) {
		t.Errorf("expression over MaxNodes: %v", err)
	}
}

// exprCases are conditions with whether the closure compiler covers them.
var exprCases = []struct {
	src     string
	closure bool
}{
	{`Kind == "write" && Size > 4096 && Path startsWith "/data/"`, true},
	{`Kind != "read" || Priority >= 10`, true},
	{`Path endsWith ".log" and not (Tenant == "acme")`, true},
	{`Path contains "log" || Data contains "secret"`, true},
	{`Path matches "^/home/[a-z]+/"`, true},
	{`Kind in ["write", "create", "truncate"]`, true},
	{`Tenant in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "acme"]`, true},
	{`UID in [0, 1000]`, true},
	{`not (GID in [0])`, true},
	{`Attr("owner") == "alice"`, true},
	{`HasAttr("label") && Attr("label") != "public"`, true},
	{`len(Path) > 12`, true},
	{`Size + Offset > 70000 && Size * 2 - 1 < 100000`, true},
	{`-Priority > 0`, true},
	{`Boundary == "fuse" ? Size > 100 : Size < 100`, true},
	{`(Size > 10) == (Offset > 10)`, true},
	{`Topic startsWith "tenant." && Topic endsWith ".write"`, true},
	{`OldPath != "" && OldPath < Path`, true},
	{`Time > 1700000500000000000`, true},
	{`PID % 7 == 3`, false},
	{`Size / 1024 > 10`, false},
	{`Size > 1.5`, false},
	{`upper(Tenant) == "ACME"`, false},
	{`Path matches Tenant`, false},
	{`Tenant + "x" == "acmex"`, false},
	{`Inode % 2 == 0 && Kind == "write"`, false},
}

func TestExprClosureAgreesWithVM(t *testing.T) {
	evs := filtertest.Events(42, 2000)
	for _, tt := range exprCases {
		x, err := filter.Compile(tt.src, nil)
		if err != nil {
			t.Errorf("Compile(%#q): %v", tt.src, err)
			continue
		}
		if x.Closure() != tt.closure {
			t.Errorf("Compile(%#q).Closure() = %v, want %v", tt.src, x.Closure(), tt.closure)
		}
		hits := 0
		for _, ev := range evs {
			got, want := x.Match(ev), x.MatchVM(ev)
			if got != want {
				t.Errorf("%#q on %+v: closure %v, VM %v", tt.src, ev, got, want)
				break
			}
			if got {
				hits++
			}
		}
		if hits == 0 && !strings.Contains(tt.src, "Tenant + ") {
			t.Logf("%#q matched none of %d events", tt.src, len(evs))
		}
		filtertest.TestFilter(t, x, evs[:100]...)
	}
}

func TestExprVMOnly(t *testing.T) {
	x, err := filter.Compile(`Size > 1`, &filter.ExprOptions{VMOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if x.Closure() {
		t.Errorf("VMOnly condition runs as closure")
	}
	if !x.Match(&semevent.Event{Size: 2}) || x.Match(&semevent.Event{Size: 1}) {
		t.Errorf("VM answers wrong")
	}
}

// genExpr builds a random condition from b: fields, constants and the
// operators the closure compiler covers, plus some it does not.
type gen struct {
	b []byte
	i int
}

func (g *gen) next(n int) int {
	if g.i >= len(g.b) {
		return 0
	}
	v := int(g.b[g.i]) % n
	g.i++
	return v
}

var (
	genStrFields = []string{"Kind", "Boundary", "Topic", "Tenant", "Path", "OldPath", "Data", `Attr("owner")`, `Attr("mime")`}
	genIntFields = []string{"Priority", "Inode", "PID", "UID", "GID", "Offset", "Size", "Time", "len(Path)"}
	genStrs      = []string{`""`, `"write"`, `"read"`, `"fuse"`, `"acme"`, `"/data"`, `"/data/logs/b.log"`, `".log"`, `"secret"`, `"alice"`, `"é"`, `"tenant.acme.fs.file.write"`}
	genInts      = []string{"0", "1", "-1", "10", "1000", "4096", "32768", "9223372036854775807", "-9223372036854775807"}
)

func (g *gen) str(depth int) string {
	switch g.next(3) {
	case 0:
		return genStrs[g.next(len(genStrs))]
	default:
		return genStrFields[g.next(len(genStrFields))]
	}
}

func (g *gen) int(depth int) string {
	if depth > 0 {
		switch g.next(6) {
		case 0:
			return "(" + g.int(depth-1) + " + " + g.int(depth-1) + ")"
		case 1:
			return "(" + g.int(depth-1) + " * " + g.int(depth-1) + ")"
		case 2:
			return "-" + g.int(depth-1)
		}
	}
	if g.next(2) == 0 {
		return genInts[g.next(len(genInts))]
	}
	return genIntFields[g.next(len(genIntFields))]
}

func (g *gen) bool(depth int) string {
	if depth <= 0 {
		return []string{"true", "false", `HasAttr("owner")`}[g.next(3)]
	}
	switch g.next(12) {
	case 0:
		return "(" + g.bool(depth-1) + " && " + g.bool(depth-1) + ")"
	case 1:
		return "(" + g.bool(depth-1) + " || " + g.bool(depth-1) + ")"
	case 2:
		return "!(" + g.bool(depth-1) + ")"
	case 3:
		ops := []string{"==", "!=", "<", "<=", ">", ">="}
		return g.int(depth-1) + " " + ops[g.next(len(ops))] + " " + g.int(depth-1)
	case 4:
		ops := []string{"==", "!=", "<", ">="}
		return g.str(depth-1) + " " + ops[g.next(len(ops))] + " " + g.str(depth-1)
	case 5:
		ops := []string{"startsWith", "endsWith", "contains"}
		return g.str(depth-1) + " " + ops[g.next(len(ops))] + " " + g.str(depth-1)
	case 6:
		return g.str(depth-1) + " in [" + genStrs[g.next(len(genStrs))] + ", " + genStrs[g.next(len(genStrs))] + "]"
	case 7:
		return g.int(depth-1) + " in [" + genInts[g.next(len(genInts))] + ", " + genInts[g.next(len(genInts))] + "]"
	case 8:
		return g.str(depth-1) + ` matches "^/(data|home)/[a-z]+"`
	case 9:
		return "(" + g.bool(depth-1) + " ? " + g.bool(depth-1) + " : " + g.bool(depth-1) + ")"
	case 10:
		return "(" + g.bool(depth-1) + ") == (" + g.bool(depth-1) + ")"
	default:
		// Outside the closure compiler: the whole condition runs on the VM.
		return g.int(depth-1) + " % 3 == 1"
	}
}

func checkDifferential(t *testing.T, src string, evs []*semevent.Event) {
	x, err := filter.Compile(src, nil)
	if err != nil {
		t.Fatalf("generated %#q does not compile: %v", src, err)
	}
	raw := x.RawProgram()
	for _, ev := range evs {
		out, err := expr.Run(raw, filter.NewEnv(ev))
		want, _ := out.(bool)
		want = want && err == nil
		if got := x.Match(ev); got != want {
			t.Fatalf("%#q (closure %v) on %+v: Match %v, expr.Run %v (err %v)", src, x.Closure(), ev, got, want, err)
		}
	}
}

type byteSource struct{ r *rand.Rand }

func newBytes(seed uint64) byteSource { return byteSource{rand.New(rand.NewPCG(seed, 2))} }

func (s byteSource) Bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.r.Uint32())
	}
	return b
}

var diffEvents = filtertest.Events(99, 64)

// TestExprDifferential runs 2000 generated conditions over 64 events each
// (128k pairs) through Match (the closure path when it applies) and raw
// expr.Run on the same program.
func TestExprDifferential(t *testing.T) {
	closures := 0
	rnd := newBytes(1)
	for range 2000 {
		g := &gen{b: rnd.Bytes(64)}
		src := g.bool(4)
		checkDifferential(t, src, diffEvents)
		if filter.MustCompile(src).Closure() {
			closures++
		}
	}
	if closures < 1000 {
		t.Errorf("only %d of 2000 generated conditions compiled to closures", closures)
	}
}

func FuzzExprDifferential(f *testing.F) {
	f.Add([]byte("\x03\x00\x01\x02\x03\x04"))
	f.Add([]byte("\x00\x03\x05\x06\x01\x04\x02\x00"))
	f.Add([]byte("\x09\x08\x07\x06\x05\x04\x03\x02\x01"))
	f.Add([]byte("\x0b\x01\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g := &gen{b: b}
		checkDifferential(t, g.bool(5), diffEvents[:16])
	})
}

func FuzzCompile(f *testing.F) {
	for _, tt := range exprCases {
		f.Add(tt.src)
	}
	f.Add(`Size >`)
	f.Add(`"\xff" == Path`)
	f.Fuzz(func(t *testing.T, src string) {
		x, err := filter.Compile(src, nil)
		if err != nil {
			var xe *filter.ExprError
			if !errors.As(err, &xe) || xe.Pos < 0 || xe.Pos > len(src) || xe.Line < 1 || xe.Column < 1 {
				t.Fatalf("Compile(%q) error %#v", src, err)
			}
			return
		}
		for _, ev := range diffEvents[:8] {
			if x.Closure() && x.Match(ev) != x.MatchVM(ev) {
				t.Fatalf("%q: closure and VM disagree on %+v", src, ev)
			}
		}
	})
}
