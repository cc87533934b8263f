package since

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"

	"github.com/vexfs/semevent/internal/varint"
)

// Cursor names a position in one journal: the journal's instance id (see
// journal.Journal.Instance), the shard it holds (0 for a journal that is not
// a Raft shard's), and the offset of the next record to read. Its string
// form is opaque to callers: "c1." and unpadded base64url of the instance,
// the shard and offset as uvarints, and a CRC-32C of those bytes, so a
// mistyped or truncated cursor is reported rather than misread.
type Cursor struct {
	Instance [16]byte
	Shard    uint64
	Offset   uint64
}

const (
	cursorPrefix = "c1."
	// maxCursorLen bounds the text ParseCursor looks at: 16 + 2*10 + 4 bytes,
	// base64-encoded, plus the prefix.
	maxCursorLen = len(cursorPrefix) + (16+2*binary.MaxVarintLen64+4+2)/3*4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// String returns the cursor's opaque text form, which [ParseCursor] reads.
func (c Cursor) String() string {
	b := make([]byte, 0, 16+2*binary.MaxVarintLen64+4)
	b = append(b, c.Instance[:]...)
	b = binary.AppendUvarint(b, c.Shard)
	b = binary.AppendUvarint(b, c.Offset)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// GoString shows the cursor's fields, for test failures and debugging.
func (c Cursor) GoString() string {
	return fmt.Sprintf("since.Cursor{Instance: %s, Shard: %d, Offset: %d}", hex.EncodeToString(c.Instance[:]), c.Shard, c.Offset)
}

// ParseCursor reads a cursor written by [Cursor.String]. Anything else is a
// *[CursorError] wrapping [ErrBadCursor] that says what is wrong.
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	bad := func(reason string) (Cursor, error) { return Cursor{}, &CursorError{Cursor: s, Reason: reason} }
	if len(s) > maxCursorLen {
		return bad(fmt.Sprintf("longer than %d bytes", maxCursorLen))
	}
	if len(s) < len(cursorPrefix) || s[:len(cursorPrefix)] != cursorPrefix {
		return bad(fmt.Sprintf("does not start with %q", cursorPrefix))
	}
	b, err := base64.RawURLEncoding.DecodeString(s[len(cursorPrefix):])
	if err != nil {
		return bad("not base64url: " + err.Error())
	}
	if len(b) < 16+1+1+4 {
		return bad("too short")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return bad("checksum mismatch (mistyped or truncated)")
	}
	copy(c.Instance[:], body)
	rest := body[16:]
	var n int
	if c.Shard, n = varint.Uvarint(rest); n <= 0 {
		return bad("bad shard number")
	}
	rest = rest[n:]
	if c.Offset, n = varint.Uvarint(rest); n <= 0 {
		return bad("bad offset")
	}
	if n != len(rest) {
		return bad("trailing bytes")
	}
	return c, nil
}
