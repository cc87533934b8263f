package analytics

import (
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
)

var (
	// ErrCorrupt is wrapped by the *DecodeError that
	// [Aggregate.UnmarshalBinary] and [DecodeResult] return.
	ErrCorrupt = errors.New("analytics: corrupt encoding")
	// ErrUnsupported is returned by the package helpers ([Advance]) when an
	// Analyzer lacks the optional ability asked for.
	ErrUnsupported = errors.New("analytics: not supported by this analyzer")
)

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

// negative records a problem with field when v < 0.
func negative(e *semevent.OptionsError, field string, v float64) {
	if v < 0 {
		e.Addf(field, "negative (%v)", v)
	}
}
