// Package glob compiles path globs with "**" and matches them without
// allocating.
//
// Syntax, per '/'-separated segment:
//
//   - any run of characters except '/'
//     ?       one character except '/'
//     [abc]   one character in the set; [a-z] ranges; [!a] or [^a] negates
//     \x      the character x, literally
//     **      as a whole segment: zero or more whole segments
//
// "**" inside a segment ("a**", "**b") is an error, as are an unterminated
// class, an empty class, a reversed range and a trailing backslash. Errors
// are *[Error] values carrying the byte position of the problem.
package glob

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error reports a malformed glob and the byte position of the problem.
type Error struct {
	Pattern string
	Pos     int
	Msg     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("glob %q at byte %d: %s", e.Pattern, e.Pos, e.Msg)
}

// MaxLen bounds the length of a pattern.
const MaxLen = 4096

type tokKind uint8

const (
	tokLit tokKind = iota
	tokOne
	tokStar
	tokClass
)

type runeRange struct{ lo, hi rune }

type tok struct {
	kind   tokKind
	lit    string
	neg    bool
	ranges []runeRange
}

type segKind uint8

const (
	segLit segKind = iota
	segDouble
	segPattern
)

type seg struct {
	kind segKind
	lit  string // segLit: the unescaped segment
	toks []tok  // segPattern
}

// Glob is a compiled pattern. It is immutable and safe for concurrent use.
type Glob struct {
	src       string
	segs      []seg
	prefix    string // leading literal segments joined by '/'
	prefixN   int    // how many segments prefix holds
	literal   bool   // every segment literal: the glob matches one path
	hasDouble bool

	// Fast paths for the common shapes, decided by Compile.
	fast        fastKind
	prefixSlash string // prefix + "/"
	suffix      string // the literal after the '*' of the last segment
}

type fastKind uint8

const (
	fastNone     fastKind = iota
	fastLiteral           // prefix
	fastTree              // prefix/**
	fastTreeStar          // prefix/**/*suffix
	fastDirStar           // prefix/*suffix
)

// Compile parses pattern.
func Compile(pattern string) (*Glob, error) {
	if len(pattern) > MaxLen {
		return nil, &Error{Pattern: pattern, Pos: MaxLen, Msg: fmt.Sprintf("longer than %d bytes", MaxLen)}
	}
	g := &Glob{src: pattern, literal: true}
	start := 0
	inPrefix := true
	var prefix strings.Builder
	for {
		end := segEnd(pattern, start)
		s, err := parseSeg(pattern, start, end)
		if err != nil {
			return nil, err
		}
		if s.kind != segLit {
			g.literal = false
			inPrefix = false
		}
		if s.kind == segDouble {
			if g.hasDouble && g.segs[len(g.segs)-1].kind == segDouble {
				// "**/**" is "**".
				if end == len(pattern) {
					break
				}
				start = end + 1
				continue
			}
			g.hasDouble = true
		}
		if inPrefix {
			if g.prefixN > 0 {
				prefix.WriteByte('/')
			}
			prefix.WriteString(s.lit)
			g.prefixN++
		}
		g.segs = append(g.segs, s)
		if end == len(pattern) {
			break
		}
		start = end + 1
	}
	g.prefix = prefix.String()
	g.prefixSlash = g.prefix + "/"
	g.setFast()
	return g, nil
}

// setFast recognises the shapes Match can decide with a few string
// comparisons.
func (g *Glob) setFast() {
	rest := g.segs[g.prefixN:]
	starSuffix := func(s seg) (string, bool) {
		if s.kind != segPattern || len(s.toks) == 0 || len(s.toks) > 2 || s.toks[0].kind != tokStar {
			return "", false
		}
		if len(s.toks) == 1 {
			return "", true
		}
		if s.toks[1].kind != tokLit {
			return "", false
		}
		return s.toks[1].lit, true
	}
	switch {
	case g.literal:
		g.fast = fastLiteral
	case len(rest) == 1 && rest[0].kind == segDouble:
		g.fast = fastTree
	case len(rest) == 2 && rest[0].kind == segDouble:
		if sfx, ok := starSuffix(rest[1]); ok {
			g.fast, g.suffix = fastTreeStar, sfx
		}
	case len(rest) == 1:
		if sfx, ok := starSuffix(rest[0]); ok {
			g.fast, g.suffix = fastDirStar, sfx
		}
	}
}

// MustCompile is Compile for patterns known to be valid; it panics on error.
func MustCompile(pattern string) *Glob {
	g, err := Compile(pattern)
	if err != nil {
		panic(err)
	}
	return g
}

// segEnd returns the index of the '/' ending the segment that starts at
// start, or len(p). A backslash escapes the next byte, '/' included.
func segEnd(p string, start int) int {
	inClass := false
	for i := start; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '[':
			inClass = true
		case ']':
			inClass = false
		case '/':
			if !inClass {
				return i
			}
		}
	}
	return len(p)
}

func parseSeg(p string, start, end int) (seg, error) {
	s := p[start:end]
	if s == "**" {
		return seg{kind: segDouble}, nil
	}
	var toks []tok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, tok{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	meta := false
	for i := start; i < end; {
		c := p[i]
		switch c {
		case '\\':
			if i+1 >= len(p) {
				return seg{}, &Error{Pattern: p, Pos: i, Msg: "trailing backslash"}
			}
			r, w := utf8.DecodeRuneInString(p[i+1:])
			if r == utf8.RuneError && w == 1 {
				return seg{}, &Error{Pattern: p, Pos: i + 1, Msg: "invalid UTF-8"}
			}
			if r == '/' {
				return seg{}, &Error{Pattern: p, Pos: i, Msg: "'/' cannot be escaped"}
			}
			lit.WriteRune(r)
			i += 1 + w
		case '*':
			if i+1 < end && p[i+1] == '*' {
				return seg{}, &Error{Pattern: p, Pos: i, Msg: `"**" must be a whole path segment`}
			}
			meta = true
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != tokStar {
				toks = append(toks, tok{kind: tokStar})
			}
			i++
		case '?':
			meta = true
			flush()
			toks = append(toks, tok{kind: tokOne})
			i++
		case '[':
			meta = true
			flush()
			t, next, err := parseClass(p, i, end)
			if err != nil {
				return seg{}, err
			}
			toks = append(toks, t)
			i = next
		case ']':
			return seg{}, &Error{Pattern: p, Pos: i, Msg: "unmatched ']'"}
		default:
			r, w := utf8.DecodeRuneInString(p[i:])
			if r == utf8.RuneError && w == 1 {
				return seg{}, &Error{Pattern: p, Pos: i, Msg: "invalid UTF-8"}
			}
			lit.WriteString(p[i : i+w])
			i += w
		}
	}
	if !meta {
		return seg{kind: segLit, lit: lit.String()}, nil
	}
	flush()
	return seg{kind: segPattern, toks: toks}, nil
}

// parseClass parses the class starting at p[i] == '[' and returns it with
// the index after its ']'.
func parseClass(p string, i, end int) (tok, int, error) {
	open := i
	i++
	t := tok{kind: tokClass}
	if i < end && (p[i] == '!' || p[i] == '^') {
		t.neg = true
		i++
	}
	readRune := func() (rune, error) {
		if i >= end {
			return 0, &Error{Pattern: p, Pos: open, Msg: "unterminated character class"}
		}
		if p[i] == '\\' {
			i++
			if i >= end {
				return 0, &Error{Pattern: p, Pos: i - 1, Msg: "trailing backslash"}
			}
		}
		r, w := utf8.DecodeRuneInString(p[i:end])
		if r == utf8.RuneError && w <= 1 {
			return 0, &Error{Pattern: p, Pos: i, Msg: "invalid UTF-8"}
		}
		i += w
		return r, nil
	}
	for {
		if i >= end {
			return tok{}, 0, &Error{Pattern: p, Pos: open, Msg: "unterminated character class"}
		}
		if p[i] == ']' {
			if len(t.ranges) == 0 {
				return tok{}, 0, &Error{Pattern: p, Pos: i, Msg: "empty character class"}
			}
			return t, i + 1, nil
		}
		at := i
		lo, err := readRune()
		if err != nil {
			return tok{}, 0, err
		}
		hi := lo
		if i+1 < end && p[i] == '-' && p[i+1] != ']' {
			i++
			if hi, err = readRune(); err != nil {
				return tok{}, 0, err
			}
			if hi < lo {
				return tok{}, 0, &Error{Pattern: p, Pos: at, Msg: fmt.Sprintf("reversed range %q-%q", lo, hi)}
			}
		}
		if lo == '/' || hi >= '/' && lo <= '/' {
			return tok{}, 0, &Error{Pattern: p, Pos: at, Msg: "'/' cannot appear in a character class"}
		}
		t.ranges = append(t.ranges, runeRange{lo, hi})
	}
}

// String returns the pattern as given to Compile.
func (g *Glob) String() string { return g.src }

// Literal reports whether the glob has no wildcard, so that it matches
// exactly one path: the one [Glob.Prefix] returns.
func (g *Glob) Literal() bool { return g.literal }

// Prefix returns the leading segments of the glob that hold no wildcard,
// joined by '/', and how many segments that is. Every path the glob matches
// starts with those n segments (when n ≥ 1), which makes the prefix an
// index key: see [PathPrefix].
func (g *Glob) Prefix() (prefix string, n int) { return g.prefix, g.prefixN }

// PathPrefix returns the first n '/'-separated segments of path joined by
// '/', and false if path has fewer than n segments.
func PathPrefix(path string, n int) (string, bool) {
	pos := 0
	for k := 1; ; k++ {
		i := strings.IndexByte(path[pos:], '/')
		if k == n {
			if i < 0 {
				return path, true
			}
			return path[:pos+i], true
		}
		if i < 0 {
			return "", false
		}
		pos += i + 1
	}
}

// Match reports whether path matches the glob. It does not allocate.
func (g *Glob) Match(path string) bool {
	switch g.fast {
	case fastLiteral:
		return path == g.prefix
	case fastTree:
		if g.prefixN == 0 {
			return true
		}
		return path == g.prefix || strings.HasPrefix(path, g.prefixSlash)
	case fastTreeStar:
		if g.prefixN > 0 && !strings.HasPrefix(path, g.prefixSlash) {
			return false
		}
		return strings.HasSuffix(path[strings.LastIndexByte(path, '/')+1:], g.suffix)
	case fastDirStar:
		rest := path
		if g.prefixN > 0 {
			if !strings.HasPrefix(path, g.prefixSlash) {
				return false
			}
			rest = path[len(g.prefixSlash):]
		}
		return strings.IndexByte(rest, '/') < 0 && strings.HasSuffix(rest, g.suffix)
	}
	return g.match(path)
}

func (g *Glob) match(path string) bool {
	segs := g.segs
	pi := 0
	pos := 0 // start of the current path segment; > len(path) when none left
	starP, starPos := -1, 0
	for {
		if pi < len(segs) {
			s := &segs[pi]
			if s.kind == segDouble {
				starP, starPos = pi, pos
				pi++
				continue
			}
			if pos <= len(path) {
				end := strings.IndexByte(path[pos:], '/')
				if end < 0 {
					end = len(path)
				} else {
					end += pos
				}
				if s.match(path[pos:end]) {
					pi++
					pos = end + 1
					continue
				}
			}
		} else if pos > len(path) {
			return true
		}
		// Backtrack: let the last "**" swallow one more segment.
		if starP < 0 || starPos > len(path) {
			return false
		}
		end := strings.IndexByte(path[starPos:], '/')
		if end < 0 {
			starPos = len(path) + 1
		} else {
			starPos += end + 1
		}
		pi, pos = starP+1, starPos
	}
}

func (s *seg) match(name string) bool {
	if s.kind == segLit {
		return s.lit == name
	}
	return matchToks(s.toks, name)
}

func matchToks(toks []tok, s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starT, starS = ti, si
				ti++
				continue
			case tokLit:
				if strings.HasPrefix(s[si:], t.lit) {
					si += len(t.lit)
					ti++
					continue
				}
			case tokOne:
				if si < len(s) {
					_, w := utf8.DecodeRuneInString(s[si:])
					si += w
					ti++
					continue
				}
			case tokClass:
				if si < len(s) {
					r, w := utf8.DecodeRuneInString(s[si:])
					if t.classHas(r) {
						si += w
						ti++
						continue
					}
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		ti, si = starT+1, starS
	}
}

func (t *tok) classHas(r rune) bool {
	in := false
	for _, rg := range t.ranges {
		if r >= rg.lo && r <= rg.hi {
			in = true
			break
		}
	}
	return in != t.neg
}
