package routing_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vexfs/semevent/routing"
)

// NATS subject semantics: https://docs.nats.io/nats-concepts/subjects
func TestSubjectMatch(t *testing.T) {
	tests := []struct {
		pattern, subject string
		want             bool
	}{
		{"foo.bar", "foo.bar", true},
		{"foo.bar", "foo.baz", false},
		{"foo.bar", "foo.bar.baz", false},
		{"foo.bar", "foo", false},
		{"foo.*", "foo.bar", true},
		{"foo.*", "foo", false},
		{"foo.*", "foo.bar.baz", false},
		{"*.bar", "foo.bar", true},
		{"*", "foo", true},
		{"*", "foo.bar", false},
		{"*.*", "a.b", true},
		{"foo.>", "foo.bar", true},
		{"foo.>", "foo.bar.baz", true},
		{"foo.>", "foo", false},
		{">", "foo", true},
		{">", "foo.bar.baz", true},
		{"foo.*.>", "foo.bar.baz", true},
		{"foo.*.>", "foo.bar", false},
		{"*.>", "a", false},
		// Subjects with empty tokens are invalid and match nothing.
		{">", "", false},
		{">", "foo..bar", false},
		{"foo.*.bar", "foo..bar", false},
		{"foo.>", "foo.", false},
		{"*", ".", false},
		{"*.foo", ".foo", false},
		// Wildcard characters inside a subject are literal bytes there.
		{"foo.*", "foo.*", true},
		{"tenant.acme.fs.file.write", "tenant.acme.fs.file.write", true},
	}
	for _, tt := range tests {
		p, err := routing.ParseSubject(tt.pattern)
		if err != nil {
			t.Errorf("ParseSubject(%#q): %v", tt.pattern, err)
			continue
		}
		if got := p.Match(tt.subject); got != tt.want {
			t.Errorf("ParseSubject(%#q).Match(%#q) = %v, want %v", tt.pattern, tt.subject, got, tt.want)
		}
	}
}

func TestParseSubjectErrors(t *testing.T) {
	tests := []struct {
		pattern string
		pos     int
		msg     string
	}{
		{"", 0, "empty subject"},
		{".foo", 0, "empty token"},
		{"foo.", 4, "empty token"},
		{"foo..bar", 4, "empty token"},
		{"foo.>.bar", 4, "last token"},
		{">.foo", 0, "last token"},
		{"foo*", 3, "whole token"},
		{"foo.*bar", 4, "whole token"},
		{"foo.b>", 5, "whole token"},
		{"foo bar", 3, "space"},
		{"foo.\tbar", 4, "space"},
		{strings.Repeat("a", routing.MaxSubjectLen+1), routing.MaxSubjectLen, "longer than"},
	}
	for _, tt := range tests {
		_, err := routing.ParseSubject(tt.pattern)
		var se *routing.SubjectError
		if !errors.As(err, &se) || !errors.Is(err, routing.ErrBadSubject) {
			t.Errorf("ParseSubject(%#q) error = %v, want *SubjectError", tt.pattern, err)
			continue
		}
		if se.Pos != tt.pos || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("ParseSubject(%#q) = pos %d %q; want pos %d containing %q", tt.pattern, se.Pos, se.Msg, tt.pos, tt.msg)
		}
	}
}

// refMatch is an independent subject matcher: split both into tokens.
func refMatch(pattern, subject string) bool {
	if subject == "" {
		return false
	}
	st := strings.Split(subject, ".")
	for _, s := range st {
		if s == "" {
			return false
		}
	}
	return refMatchTokens(strings.Split(pattern, "."), st)
}

// refMatchTokens matches pattern tokens against the tokens of a valid
// subject; st is nil for an invalid subject.
func refMatchTokens(pt, st []string) bool {
	if st == nil {
		return false
	}
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || p != "*" && p != st[i] {
			return false
		}
	}
	return len(st) == len(pt)
}

func FuzzSubject(f *testing.F) {
	f.Add("foo.*.>", "foo.bar.baz")
	f.Add(">", "a")
	f.Add("a..b", "a.b")
	f.Add("*", "")
	f.Add("foo.b>", "foo.b>")
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		p, err := routing.ParseSubject(pattern)
		if err != nil {
			var se *routing.SubjectError
			if !errors.As(err, &se) || se.Pos < 0 || se.Pos > len(pattern) {
				t.Fatalf("ParseSubject(%q): bad error %v", pattern, err)
			}
			return
		}
		if got, want := p.Match(subject), refMatch(pattern, subject); got != want {
			t.Fatalf("ParseSubject(%q).Match(%q) = %v, reference %v", pattern, subject, got, want)
		}
	})
}
