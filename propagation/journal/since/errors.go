package since

import (
	"errors"
	"fmt"
)

// ErrBadCursor is wrapped by *[CursorError]: the cursor string was not made
// by [Cursor.String].
var ErrBadCursor = errors.New("since: malformed cursor")

// CursorError reports a cursor string that does not parse, and why.
type CursorError struct {
	Cursor string
	Reason string
}

func (e *CursorError) Error() string {
	c := e.Cursor
	if len(c) > 64 {
		c = c[:64] + "…"
	}
	return fmt.Sprintf("since: malformed cursor %q: %s", c, e.Reason)
}

// Unwrap returns [ErrBadCursor].
func (e *CursorError) Unwrap() error { return ErrBadCursor }
