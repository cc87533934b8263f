package filter

import (
	"errors"
	"fmt"
)

var (
	// ErrNotBool is wrapped by the *[ExprError] that [Compile] returns for an
	// expression whose result is not a bool.
	ErrNotBool = errors.New("filter: expression does not return bool")
	// ErrBadExpr is wrapped by every *[ExprError] [Compile] returns.
	ErrBadExpr = errors.New("filter: bad expression")
	// ErrNotCacheable is returned by [NewCache] for a filter that does not
	// say which fields it reads (see [FieldReader]) when no Fields are given.
	ErrNotCacheable = errors.New("filter: filter does not declare the fields it reads")
	// ErrBadPattern is wrapped by the *[PatternError] that path glob
	// builders return.
	ErrBadPattern = errors.New("filter: bad pattern")
)

// ExprError reports an expression that does not compile: where (line and
// column counted in characters from 1, and the byte offset) and why.
type ExprError struct {
	Expr   string
	Line   int // 1-based
	Column int // 1-based, in characters
	Pos    int // byte offset into Expr
	Msg    string
	Err    error // ErrNotBool or nil
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("filter: expr %q: line %d, column %d (byte %d): %s", e.Expr, e.Line, e.Column, e.Pos, e.Msg)
}

// Unwrap returns ErrBadExpr and, for a non-bool expression, ErrNotBool.
func (e *ExprError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrBadExpr, e.Err}
	}
	return []error{ErrBadExpr}
}

// PatternError reports a malformed path glob and the byte position of the
// problem.
type PatternError struct {
	Pattern string
	Pos     int
	Msg     string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("filter: glob %q at byte %d: %s", e.Pattern, e.Pos, e.Msg)
}

// Unwrap returns ErrBadPattern.
func (e *PatternError) Unwrap() error { return ErrBadPattern }
