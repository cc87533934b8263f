package fusebridge

import (
	"fmt"

	"github.com/vexfs/semevent/internal/codec"
)

// EventView reads the fields of an event received from a [ShmReader]
// straight from its encoded bytes, without decoding it into a
// [semevent.Event] and without allocating: Kind, Boundary, ID, Time, Path
// (as []byte, or as a string sharing the bytes), the attributes (an
// iterator), Data, and every other field. EventView.Event materialises the
// full event when it is needed.
//
// Lifetime: what the []byte and string accessors return lies in the
// reader's buffer. It is valid until the next call of NextView or Next on
// the same reader; copy it (or call Event) to keep it.
type EventView = codec.View

// NextView reads the next event into v without decoding it, waiting while
// the channel is empty. The whole record is checked first, so the
// accessors of v never fail. It returns the same errors as
// [ShmReader.Next]: io.EOF after the writer closed and every event was
// read, one wrapping [ErrPeerGone], or one wrapping [ErrChannelCorrupt].
//
// The record is copied once out of the shared memory into the reader's
// buffer (which is reused, so this does not allocate): a record read in
// place could be overwritten by a writer that is not trusted.
func (r *ShmReader) NextView(v *EventView) error {
	var err error
	r.buf, err = r.c.Recv(r.buf)
	if err != nil {
		return err
	}
	if err := codec.Parse(r.buf, v); err != nil {
		return fmt.Errorf("fusebridge: shared-memory event: %w: %w", ErrChannelCorrupt, err)
	}
	return nil
}
