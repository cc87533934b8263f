package raft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/varint"
)

// The two encodings this package writes: a proposal (a batch of events
// appended to one shard) and a snapshot (a shard's whole log). Both hold
// events as internal/codec records, the journal's encoding, so that every
// field of an event, context included, survives replication.
//
// Proposal, version 1:
//
//	version   1 byte (1)
//	count     uvarint, at least 1
//	records   count × (uvarint length, codec record)
//
// Snapshot, version 1:
//
//	magic     4 bytes "SEcs"
//	version   1 byte (1)
//	count     uvarint
//	records   count × (uvarint length, codec record)
const (
	proposalVersion = 1
	snapshotVersion = 1
	snapshotMagic   = "SEcs"
)

// ErrMalformed is wrapped by every *EncodingError.
var ErrMalformed = errors.New("coord/raft: malformed encoding")

// EncodingError reports a proposal or snapshot that could not be decoded:
// which, the byte offset, and what was wrong there.
type EncodingError struct {
	What string // "proposal" or "snapshot"
	Pos  int64
	Msg  string
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("coord/raft: malformed %s at byte %d: %s", e.What, e.Pos, e.Msg)
}

// Unwrap returns [ErrMalformed].
func (e *EncodingError) Unwrap() error { return ErrMalformed }

// appendRecord appends one length-prefixed event record: the body of a
// proposal or snapshot.
func appendRecord(dst, rec []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	return append(dst, rec...)
}

// proposalHeader returns the header of a proposal of n records.
func proposalHeader(dst []byte, n int) []byte {
	dst = append(dst, proposalVersion)
	return binary.AppendUvarint(dst, uint64(n))
}

// checkRecord reports whether rec decodes as an event.
func checkRecord(rec []byte) error {
	var ev semevent.Event
	return codec.Decode(rec, &ev)
}

// decodeProposal splits a proposal into its records, which alias b. It
// checks the framing and, when full is set, that every record decodes as
// an event; the state machine skips that (the proposer encoded validated
// events, and readers decode anyway).
func decodeProposal(b []byte, full bool) ([][]byte, error) {
	fail := func(pos int, format string, args ...any) error {
		return &EncodingError{What: "proposal", Pos: int64(pos), Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) == 0 {
		return nil, fail(0, "empty")
	}
	if b[0] != proposalVersion {
		return nil, fail(0, "unknown version %d", b[0])
	}
	pos := 1
	n, k := varint.Uvarint(b[pos:])
	if k <= 0 {
		return nil, fail(pos, "bad record count")
	}
	if n == 0 || n > uint64(len(b)-pos-k) {
		return nil, fail(pos, "record count %d does not fit in %d bytes", n, len(b)-pos-k)
	}
	pos += k
	recs := make([][]byte, 0, n)
	for range n {
		l, k := varint.Uvarint(b[pos:])
		if k <= 0 {
			return nil, fail(pos, "bad record length")
		}
		if l > uint64(len(b)-pos-k) {
			return nil, fail(pos, "record length %d exceeds the %d bytes left", l, len(b)-pos-k)
		}
		pos += k
		rec := b[pos : pos+int(l)]
		if full {
			if err := checkRecord(rec); err != nil {
				return nil, fail(pos, "record %d: %v", len(recs), err)
			}
		}
		recs = append(recs, rec)
		pos += int(l)
	}
	if pos != len(b) {
		return nil, fail(pos, "%d trailing bytes", len(b)-pos)
	}
	return recs, nil
}

// writeSnapshot writes recs as a snapshot.
func writeSnapshot(w io.Writer, recs [][]byte) error {
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, snapshotMagic...)
	buf = append(buf, snapshotVersion)
	buf = binary.AppendUvarint(buf, uint64(len(recs)))
	for _, r := range recs {
		buf = appendRecord(buf, r)
		if len(buf) >= 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// readSnapshot reads a snapshot that writeSnapshot wrote.
func readSnapshot(r io.Reader) ([][]byte, error) {
	cr := &countingReader{r: r}
	fail := func(format string, args ...any) error {
		return &EncodingError{What: "snapshot", Pos: cr.n, Msg: fmt.Sprintf(format, args...)}
	}
	var head [5]byte
	if _, err := io.ReadFull(cr, head[:]); err != nil {
		return nil, fail("header: %v", err)
	}
	if string(head[:4]) != snapshotMagic {
		return nil, fail("bad magic %q", head[:4])
	}
	if head[4] != snapshotVersion {
		return nil, fail("unknown version %d", head[4])
	}
	n, err := varint.ReadUvarint(cr)
	if err != nil {
		return nil, fail("record count: %v", err)
	}
	var recs [][]byte
	for i := uint64(0); i < n; i++ {
		l, err := varint.ReadUvarint(cr)
		if err != nil {
			return nil, fail("record %d length: %v", i, err)
		}
		if l > 64<<20 {
			return nil, fail("record %d length %d too large", i, l)
		}
		rec := make([]byte, l)
		if _, err := io.ReadFull(cr, rec); err != nil {
			return nil, fail("record %d: %v", i, err)
		}
		if err := checkRecord(rec); err != nil {
			return nil, fail("record %d: %v", i, err)
		}
		recs = append(recs, rec)
	}
	var one [1]byte
	if k, _ := cr.Read(one[:]); k != 0 {
		return nil, fail("trailing bytes")
	}
	return recs, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}
