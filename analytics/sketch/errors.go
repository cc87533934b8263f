package sketch

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt is wrapped by the *DecodeError that UnmarshalBinary
	// returns for input it cannot decode.
	ErrCorrupt = errors.New("sketch: corrupt encoding")
	// ErrIncompatible is returned by Merge when the two sketches have
	// different parameters (precision, accuracy).
	ErrIncompatible = errors.New("sketch: incompatible sketches")
)

// DecodeError reports bytes that are not a valid encoding of a sketch.
type DecodeError struct {
	Sketch string // "HLL", "DDSketch", "TopK"
	Offset int    // byte offset of the problem
	Msg    string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("sketch: decode %s at byte %d: %s", e.Sketch, e.Offset, e.Msg)
}

// Unwrap returns [ErrCorrupt].
func (e *DecodeError) Unwrap() error { return ErrCorrupt }
