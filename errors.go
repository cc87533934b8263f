package semevent

import (
	"errors"
	"fmt"
	"strings"
)

// Errors shared by every semevent package. Packages wrap them with %w so that
// errors.Is works across package boundaries.
var (
	// ErrClosed is returned by operations on a closed component (a bus after
	// Close, a subscription after Unsubscribe, a journal after Close).
	ErrClosed = errors.New("semevent: closed")
	// ErrNilEvent is returned when a nil *Event is passed where one is needed.
	ErrNilEvent = errors.New("semevent: nil event")
	// ErrNilHandler is returned when a nil Handler is passed to Subscribe.
	ErrNilHandler = errors.New("semevent: nil handler")
	// ErrInvalidEvent is wrapped by *EventError when an event fails Validate.
	ErrInvalidEvent = errors.New("semevent: invalid event")
	// ErrInvalidOptions is wrapped by every [OptionsError]: every
	// constructor of every package returns it for options that fail
	// validation.
	ErrInvalidOptions = errors.New("semevent: invalid options")
	// ErrEmptyFile is wrapped by the *[FileError] a rule file watcher
	// (routing.Watch, the automation rule engine's Watch) reports for a
	// file that is empty or holds only white space, unless its options
	// allow that: a truncated file would otherwise drop every rule.
	ErrEmptyFile = errors.New("semevent: empty file")
	// ErrUnsafeFile is wrapped by the *[FileError] a rule file watcher
	// reports for a file that someone other than the process's user or
	// root could have written: group- or world-writable, or owned by
	// another user. Its rules would run with the watcher's privileges.
	ErrUnsafeFile = errors.New("semevent: unsafe file")
)

// FileError reports a file that was refused or could not be read: which
// file, what was found and the cause ([ErrEmptyFile], [ErrUnsafeFile], or
// the underlying error).
type FileError struct {
	Path string
	Msg  string // e.g. "mode 0666 is group- or world-writable"
	Err  error
}

func (e *FileError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("semevent: file %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("semevent: file %s: %v: %s", e.Path, e.Err, e.Msg)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// OptionsError lists every problem found in one options struct. It is the
// only options error type of semevent: every package's Validate and
// constructor returns it, and it wraps [ErrInvalidOptions].
type OptionsError struct {
	Options  string // the options type, e.g. "propagation.Options"
	Problems []OptionProblem
}

// OptionProblem is one invalid field of an options struct.
type OptionProblem struct {
	Field string // e.g. "QueueSize" or "Windows[2].Size"
	Msg   string
}

// Addf records a problem with field.
func (e *OptionsError) Addf(field, format string, args ...any) {
	e.Problems = append(e.Problems, OptionProblem{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// Err returns e when it holds a problem and nil otherwise, so that a
// Validate method can end with "return e.Err()".
func (e *OptionsError) Err() error {
	if e == nil || len(e.Problems) == 0 {
		return nil
	}
	return e
}

func (e *OptionsError) Error() string {
	var b strings.Builder
	b.WriteString("semevent: invalid ")
	b.WriteString(e.Options)
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(p.Field)
		b.WriteString(": ")
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Unwrap returns [ErrInvalidOptions].
func (e *OptionsError) Unwrap() error { return ErrInvalidOptions }

// EventError reports an event that failed validation: which field, and why.
type EventError struct {
	ID    ID     // the event's ID, zero if it had none yet
	Field string // the offending field, e.g. "Kind" or "Attrs[3].Key"
	Msg   string
}

func (e *EventError) Error() string {
	if e.ID.IsZero() {
		return fmt.Sprintf("semevent: invalid event: %s: %s", e.Field, e.Msg)
	}
	return fmt.Sprintf("semevent: invalid event %s: %s: %s", e.ID, e.Field, e.Msg)
}

// Unwrap returns [ErrInvalidEvent].
func (e *EventError) Unwrap() error { return ErrInvalidEvent }

// ParseError reports text that could not be parsed as a semevent value: what
// type, the input, and the byte position of the problem.
type ParseError struct {
	Type  string // "ID", "Kind", "TraceContext", …
	Input string
	Pos   int
	Msg   string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("semevent: parse %s %q at byte %d: %s", e.Type, e.Input, e.Pos, e.Msg)
}

// PanicError carries a value recovered from a panicking handler, with the
// name of the component that recovered it.
type PanicError struct {
	Where string // e.g. `subscriber "indexer"`
	Value any
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("semevent: panic in %s: %v", e.Where, e.Value)
}
