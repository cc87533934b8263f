package journal

import (
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
)

// Sentinel errors. Each typed error below unwraps to one of them, so that
// errors.Is works on whatever a method returns.
var (
	// ErrClosed is returned by every method of a closed [Journal]; it wraps
	// semevent.ErrClosed.
	ErrClosed = fmt.Errorf("journal: %w", semevent.ErrClosed)
	// ErrCorrupt is wrapped by *[CorruptError]: a record or segment header
	// on disk fails its checksum, is out of sequence, or does not decode.
	ErrCorrupt = errors.New("journal: corrupt")
	// ErrWrongKey is wrapped by *[KeyError] when a segment's key check fails
	// with the key its key id names.
	ErrWrongKey = errors.New("journal: wrong encryption key")
	// ErrMissingKey is wrapped by *[KeyError] when a segment names a key id
	// that the options do not hold, or is encrypted and no keys were given.
	ErrMissingKey = errors.New("journal: missing encryption key")
	// ErrFailed is wrapped by *[WriteError]: a write or fsync failed, the
	// journal no longer acknowledges anything, and it must be reopened.
	ErrFailed = errors.New("journal: failed")
	// ErrOutOfRange is wrapped by *[OffsetError]: the offset is before the
	// first retained record or after the next one to be appended.
	ErrOutOfRange = errors.New("journal: offset out of range")
	// ErrTooLarge is returned by Append and AppendBatch for an event whose
	// record would exceed [Options.MaxRecordSize]; nothing of the batch is
	// appended.
	ErrTooLarge = errors.New("journal: event too large")
	// ErrMetaSize is wrapped by *[MetaSizeError]: the metadata given to
	// [Journal.AppendBatchMeta] is not [Options.MetaSize] bytes long.
	ErrMetaSize = errors.New("journal: wrong metadata size")
	// ErrLocked is returned by Open when another Journal, in this process or
	// another, has the directory open.
	ErrLocked = errors.New("journal: directory is locked by another journal")
)

// CorruptError reports bad bytes on disk: the segment file, the byte
// position in it, the offset of the record expected there, and why.
// Readers return it instead of the record; Open returns it for corruption
// in the last segment that is not a torn tail.
type CorruptError struct {
	Segment string // segment file name, e.g. "00000000000000000000.seg"
	Pos     int64  // byte position in the segment file
	Offset  uint64 // journal offset of the record expected at Pos
	Reason  string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("journal: corrupt record at offset %d (segment %s, byte %d): %s", e.Offset, e.Segment, e.Pos, e.Reason)
}

// Unwrap returns [ErrCorrupt].
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// KeyError reports a segment that cannot be decrypted.
type KeyError struct {
	Segment string
	KeyID   string
	Err     error // ErrWrongKey or ErrMissingKey
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("journal: segment %s (key id %q): %v", e.Segment, e.KeyID, e.Err)
}

// Unwrap returns [ErrWrongKey] or [ErrMissingKey].
func (e *KeyError) Unwrap() error { return e.Err }

// WriteError reports the write or fsync failure that stopped the journal.
// Every later Append returns the same *WriteError: the journal never
// retries an fsync (after a failed fsync the kernel may have dropped the
// dirty pages, so a retry that succeeds proves nothing).
type WriteError struct {
	Op      string // "write", "fsync", "create", "sync dir", …
	Segment string
	Err     error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("journal: %s %s: %v (journal stopped; reopen to recover)", e.Op, e.Segment, e.Err)
}

// Unwrap returns [ErrFailed] and the underlying error.
func (e *WriteError) Unwrap() []error { return []error{ErrFailed, e.Err} }

// OffsetError reports an offset outside [First, Next].
type OffsetError struct {
	Offset, First, Next uint64
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("journal: offset %d out of range [%d, %d]", e.Offset, e.First, e.Next)
}

// Unwrap returns [ErrOutOfRange].
func (e *OffsetError) Unwrap() error { return ErrOutOfRange }

// MetaSizeError reports metadata of the wrong length given to
// [Journal.AppendBatchMeta]; nothing of the batch was appended.
type MetaSizeError struct {
	Dir      string // the journal's directory
	Len      int    // bytes given
	MetaSize int    // bytes the journal's records carry (Options.MetaSize)
}

func (e *MetaSizeError) Error() string {
	return fmt.Sprintf("journal %s: AppendBatchMeta: meta is %d bytes, want Options.MetaSize = %d", e.Dir, e.Len, e.MetaSize)
}

// Unwrap returns [ErrMetaSize].
func (e *MetaSizeError) Unwrap() error { return ErrMetaSize }
