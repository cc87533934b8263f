package analytics

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by the *DecodeError that
	// [Aggregate.UnmarshalBinary] and [DecodeResult] return.
	ErrCorrupt = errors.New("analytics: corrupt encoding")
	// ErrInvalidOptions is wrapped by every *OptionError.
	ErrInvalidOptions = errors.New("analytics: invalid options")
	// ErrUnsupported is returned by the package helpers ([Advance]) when an
	// Analyzer lacks the optional ability asked for.
	ErrUnsupported = errors.New("analytics: not supported by this analyzer")
)

// OptionError names one invalid option; Validate joins one per problem.
type OptionError struct {
	Field string // e.g. "Window.Slide"
	Msg   string
}

func (e *OptionError) Error() string { return fmt.Sprintf("analytics: option %s: %s", e.Field, e.Msg) }

// Unwrap returns [ErrInvalidOptions].
func (e *OptionError) Unwrap() error { return ErrInvalidOptions }

// DecodeError reports bytes that do not decode: what, where, and the
// underlying sketch error if any.
type DecodeError struct {
	What   string // "aggregate", "result event", …
	Offset int
	Msg    string
	Err    error
}

func (e *DecodeError) Error() string {
	s := fmt.Sprintf("analytics: decode %s at byte %d: %s", e.What, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns [ErrCorrupt] and the underlying error.
func (e *DecodeError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}

// PublishError reports an emitted event that the Options.Publisher
// refused; it goes to Options.OnError and is counted in Stats.PublishErrors.
type PublishError struct {
	Topic string
	Err   error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("analytics: publish %s: %v", e.Topic, e.Err)
}

// Unwrap returns the publisher's error.
func (e *PublishError) Unwrap() error { return e.Err }

// problems collects the *OptionErrors of a Validate.
type problems []error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &OptionError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// negative adds a problem when v < 0.
func (ps *problems) negative(field string, v float64) {
	if v < 0 {
		ps.add(field, "negative (%v)", v)
	}
}

func (ps problems) join() error { return errors.Join(ps...) }
