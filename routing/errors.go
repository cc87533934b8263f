package routing

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalidRuleSet is wrapped by the *[RuleSetError] that [New],
	// [Table.Load] and [Table.LoadFile] return for a rule set that does not
	// compile.
	ErrInvalidRuleSet = errors.New("routing: invalid rule set")
	// ErrBadSubject is wrapped by *[SubjectError].
	ErrBadSubject = errors.New("routing: bad subject pattern")
)

// SubjectError reports a malformed subject pattern and the byte position of
// the problem.
type SubjectError struct {
	Subject string
	Pos     int
	Msg     string
}

func (e *SubjectError) Error() string {
	return fmt.Sprintf("routing: subject %q at byte %d: %s", e.Subject, e.Pos, e.Msg)
}

// Unwrap returns ErrBadSubject.
func (e *SubjectError) Unwrap() error { return ErrBadSubject }

// RuleError is one problem in a rule set: which rule or group, which field,
// where in the field's text (Pos, -1 when it does not apply) and why. Err
// holds the underlying error (a *SubjectError, *filter.ExprError, …) when
// there is one.
type RuleError struct {
	Kind  string // "rule" or "group"
	Index int    // position in RuleSet.Rules or RuleSet.Groups
	Name  string
	Field string // "Subject", "Path", "When", "To", …
	Pos   int
	Msg   string
	Err   error
}

func (e *RuleError) Error() string {
	who := fmt.Sprintf("%s %d", e.Kind, e.Index)
	if e.Name != "" {
		who += fmt.Sprintf(" (%q)", e.Name)
	}
	if e.Pos >= 0 {
		return fmt.Sprintf("%s: %s at byte %d: %s", who, e.Field, e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", who, e.Field, e.Msg)
}

// Unwrap returns the underlying error, if any.
func (e *RuleError) Unwrap() error { return e.Err }

// RuleSetError lists every problem found in a rule set; the rule set was
// rejected whole.
type RuleSetError struct {
	Source string // file name, or "" for a rule set given through the API
	Errors []*RuleError
}

func (e *RuleSetError) Error() string {
	var b strings.Builder
	b.WriteString("routing: invalid rule set")
	if e.Source != "" {
		fmt.Fprintf(&b, " %s", e.Source)
	}
	fmt.Fprintf(&b, " (%d problems)", len(e.Errors))
	for _, r := range e.Errors {
		b.WriteString("\n\t")
		b.WriteString(r.Error())
	}
	return b.String()
}

// Unwrap returns ErrInvalidRuleSet and every RuleError.
func (e *RuleSetError) Unwrap() []error {
	errs := []error{ErrInvalidRuleSet}
	for _, r := range e.Errors {
		errs = append(errs, r)
	}
	return errs
}
