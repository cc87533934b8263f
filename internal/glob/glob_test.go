package glob

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

var matchTests = []struct {
	pattern, path string
	want          bool
}{
	{"", "", true},
	{"", "/", false},
	{"/data/x.log", "/data/x.log", true},
	{"/data/x.log", "/data/y.log", false},
	{"/data/*.log", "/data/x.log", true},
	{"/data/*.log", "/data/a/x.log", false},
	{"/data/*", "/data/", true},
	{"/data/*", "/data", false},
	{"/data/**", "/data", true},
	{"/data/**", "/data/", true},
	{"/data/**", "/data/a/b/c", true},
	{"/data/**", "/datax/a", false},
	{"/data/**/x.log", "/data/x.log", true},
	{"/data/**/x.log", "/data/a/b/x.log", true},
	{"/data/**/x.log", "/data/a/b/y.log", false},
	{"**/*.log", "x.log", true},
	{"**/*.log", "/a/b/x.log", true},
	{"**/*.log", "/a/b/x.txt", false},
	{"**", "", true},
	{"**", "/any/thing", true},
	{"**/**", "a", true},
	{"/a/**/b/**/c", "/a/b/c", true},
	{"/a/**/b/**/c", "/a/x/b/y/z/c", true},
	{"/a/**/b/**/c", "/a/x/c", false},
	{"/a/?.txt", "/a/b.txt", true},
	{"/a/?.txt", "/a/é.txt", true},
	{"/a/?.txt", "/a/bb.txt", false},
	{"/a/[abc].txt", "/a/b.txt", true},
	{"/a/[abc].txt", "/a/d.txt", false},
	{"/a/[!abc].txt", "/a/d.txt", true},
	{"/a/[^abc].txt", "/a/a.txt", false},
	{"/a/[a-c]*", "/a/cat", true},
	{"/a/[a-c]*", "/a/dog", false},
	{`/a/\*`, "/a/*", true},
	{`/a/\*`, "/a/b", false},
	{"/a/*b*c*", "/a/xxbyyczz", true},
	{"/a/*b*c*", "/a/xxcyybzz", false},
	{"*a*a*a*a*b", strings.Repeat("a", 60), false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchTests {
		g, err := Compile(tt.pattern)
		if err != nil {
			t.Errorf("Compile(%#q): %v", tt.pattern, err)
			continue
		}
		if got := g.Match(tt.path); got != tt.want {
			t.Errorf("Compile(%#q).Match(%#q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
		if ref := reference(t, g).MatchString(tt.path); ref != tt.want {
			t.Errorf("reference(%#q).Match(%#q) = %v, want %v", tt.pattern, tt.path, ref, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		pattern string
		pos     int
		msg     string
	}{
		{"/a/**b", 3, "whole path segment"},
		{"/a/b**", 4, "whole path segment"},
		{"/a/[abc", 3, "unterminated"},
		{"/a/[]", 4, "empty character class"},
		{"/a/[z-a]", 4, "reversed range"},
		{`/a/b\`, 4, "trailing backslash"},
		{"/a/b]", 4, "unmatched"},
		{"/a/\xff", 3, "invalid UTF-8"},
		{strings.Repeat("a", MaxLen+1), MaxLen, "longer than"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.pattern)
		var ge *Error
		if !errors.As(err, &ge) {
			t.Errorf("Compile(%#q) error = %v, want *Error", tt.pattern, err)
			continue
		}
		if ge.Pos != tt.pos || !strings.Contains(ge.Msg, tt.msg) {
			t.Errorf("Compile(%#q) = pos %d %q, want pos %d containing %q", tt.pattern, ge.Pos, ge.Msg, tt.pos, tt.msg)
		}
	}
}

func TestPrefix(t *testing.T) {
	tests := []struct {
		pattern string
		prefix  string
		n       int
		literal bool
	}{
		{"/data/t1/**/*.log", "/data/t1", 3, false},
		{"/data/x.log", "/data/x.log", 3, true},
		{"**/*.log", "", 0, false},
		{"*.log", "", 0, false},
		{`/a\*b/*`, "/a*b", 2, false},
	}
	for _, tt := range tests {
		g := MustCompile(tt.pattern)
		p, n := g.Prefix()
		if p != tt.prefix || n != tt.n || g.Literal() != tt.literal {
			t.Errorf("Compile(%#q).Prefix() = %q, %d, literal %v; want %q, %d, %v", tt.pattern, p, n, g.Literal(), tt.prefix, tt.n, tt.literal)
		}
	}
}

func TestPathPrefix(t *testing.T) {
	tests := []struct {
		path string
		n    int
		want string
		ok   bool
	}{
		{"/data/t1/x", 1, "", true},
		{"/data/t1/x", 2, "/data", true},
		{"/data/t1/x", 3, "/data/t1", true},
		{"/data/t1/x", 4, "/data/t1/x", true},
		{"/data/t1/x", 5, "", false},
		{"rel", 1, "rel", true},
	}
	for _, tt := range tests {
		got, ok := PathPrefix(tt.path, tt.n)
		if got != tt.want || ok != tt.ok {
			t.Errorf("PathPrefix(%q, %d) = %q, %v; want %q, %v", tt.path, tt.n, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	g := MustCompile("/data/**/[a-z]*.log")
	if n := testing.AllocsPerRun(100, func() { g.Match("/data/a/b/c/file.log") }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

// reference translates a compiled glob into an anchored regexp.
func reference(t testing.TB, g *Glob) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	n := len(g.segs)
	skipSep := false
	for i, s := range g.segs {
		if s.kind == segDouble {
			switch {
			case n == 1:
				b.WriteString(`.*`)
			case i == 0:
				b.WriteString(`(?:[^/]*/)*`)
				skipSep = true
				continue
			default:
				b.WriteString(`(?:/[^/]*)*`)
			}
			continue
		}
		if i > 0 && !skipSep {
			b.WriteString("/")
		}
		skipSep = false
		if s.kind == segLit {
			b.WriteString(regexp.QuoteMeta(s.lit))
			continue
		}
		for _, tk := range s.toks {
			switch tk.kind {
			case tokLit:
				b.WriteString(regexp.QuoteMeta(tk.lit))
			case tokOne:
				b.WriteString(`[^/]`)
			case tokStar:
				b.WriteString(`[^/]*`)
			case tokClass:
				b.WriteString("[")
				if tk.neg {
					b.WriteString("^/")
				}
				for _, r := range tk.ranges {
					fmt.Fprintf(&b, `\x{%x}-\x{%x}`, r.lo, r.hi)
				}
				b.WriteString("]")
			}
		}
	}
	b.WriteString(`)$`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		t.Fatalf("reference regexp %q for %q: %v", b.String(), g.src, err)
	}
	return re
}

func FuzzGlob(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.pattern, tt.path)
	}
	f.Add("/a/[!-]/**", "/a/x/y")
	f.Add(`[\]]`, "]")
	f.Fuzz(func(t *testing.T, pattern, path string) {
		g, err := Compile(pattern)
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) || ge.Pos < 0 || ge.Pos > len(pattern) {
				t.Fatalf("Compile(%q): bad error %v", pattern, err)
			}
			return
		}
		got := g.Match(path)
		if want := reference(t, g).MatchString(path); got != want {
			t.Fatalf("Compile(%q).Match(%q) = %v, reference says %v", pattern, path, got, want)
		}
		if p, n := g.Prefix(); n > 0 && got {
			if pp, ok := PathPrefix(path, n); !ok || pp != p {
				t.Fatalf("Compile(%q) matches %q but prefix %q (n=%d) differs from %q", pattern, path, p, n, pp)
			}
		}
	})
}
