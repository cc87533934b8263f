package routing

import (
	"fmt"
	"strings"
)

// Subject is a parsed subject pattern with NATS semantics: tokens separated
// by '.', where "*" matches exactly one token and ">" as the last token
// matches one or more tokens. Subject patterns are immutable.
type Subject struct {
	src    string
	tokens []string // "*" and ">" are wildcards
}

// MaxSubjectLen bounds a subject pattern.
const MaxSubjectLen = 1024

// ParseSubject parses a subject pattern. Every token must be non-empty;
// "*" and ">" must be whole tokens; ">" may only be last; whitespace is not
// allowed. Errors are *[SubjectError] values with the byte position.
func ParseSubject(s string) (*Subject, error) {
	fail := func(pos int, format string, args ...any) error {
		return &SubjectError{Subject: s, Pos: pos, Msg: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return nil, fail(0, "empty subject")
	}
	if len(s) > MaxSubjectLen {
		return nil, fail(MaxSubjectLen, "longer than %d bytes", MaxSubjectLen)
	}
	sub := &Subject{src: s}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			switch c := s[i]; {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c < 0x20 || c == 0x7f:
				return nil, fail(i, "control or space byte %q not allowed", c)
			case c == '*' || c == '>':
				if i != start || (i+1 < len(s) && s[i+1] != '.') {
					return nil, fail(i, "wildcard %q must be a whole token", c)
				}
			}
			continue
		}
		if i == start {
			return nil, fail(i, "empty token")
		}
		tok := s[start:i]
		if tok == ">" && i != len(s) {
			return nil, fail(start, `">" must be the last token`)
		}
		sub.tokens = append(sub.tokens, tok)
		start = i + 1
	}
	return sub, nil
}

// MustParseSubject is ParseSubject for patterns known to be valid; it
// panics on error.
func MustParseSubject(s string) *Subject {
	sub, err := ParseSubject(s)
	if err != nil {
		panic(err)
	}
	return sub
}

// String returns the pattern as parsed.
func (p *Subject) String() string { return p.src }

// Literal reports whether the pattern has no wildcard.
func (p *Subject) Literal() bool {
	for _, t := range p.tokens {
		if t == "*" || t == ">" {
			return false
		}
	}
	return true
}

// Match reports whether the subject (an event's topic) matches the pattern.
// A subject with an empty token ("a..b", ".a", "a.", "") matches no
// pattern, as NATS rejects such subjects. Match does not allocate.
func (p *Subject) Match(subject string) bool {
	if !validSubject(subject) {
		return false
	}
	rest, done := subject, false
	for _, t := range p.tokens {
		if done {
			return false
		}
		if t == ">" {
			return true
		}
		tok := rest
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			tok, rest = rest[:j], rest[j+1:]
		} else {
			done = true
		}
		if t != "*" && t != tok {
			return false
		}
	}
	return done
}

// validSubject reports whether s is a non-empty subject without empty
// tokens.
func validSubject(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	return !strings.Contains(s, "..")
}
