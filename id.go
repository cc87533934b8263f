package semevent

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// ID identifies an event. IDs from one [IDGenerator] are unique and strictly
// increasing, and they sort by creation time: the high half is the Unix time
// in nanoseconds at creation (bumped by one where two would collide), the
// low half the generator's node number and a salt chosen at random when the
// generator is made, so that two processes with the same node number, or a
// restart with the clock stepped back, still yield distinct IDs.
//
// The zero ID means "not assigned yet". IDs are comparable with == and are
// ordered by [ID.Compare].
type ID struct {
	hi, lo uint64
}

// MakeID builds an ID from its parts; the inverse of [ID.Nanos], [ID.Node]
// and [ID.Salt]. Decoders use it.
func MakeID(nanos uint64, node, salt uint32) ID {
	return ID{hi: nanos, lo: uint64(node)<<32 | uint64(salt)}
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id.hi == 0 && id.lo == 0 }

// Nanos returns the creation time in Unix nanoseconds.
func (id ID) Nanos() uint64 { return id.hi }

// Time returns the creation time.
func (id ID) Time() time.Time { return time.Unix(0, int64(id.hi)) }

// Node returns the node number of the generator that made id.
func (id ID) Node() uint32 { return uint32(id.lo >> 32) }

// Salt returns the generator's random salt.
func (id ID) Salt() uint32 { return uint32(id.lo) }

// Compare returns -1, 0 or +1 as id sorts before, equal to or after other.
func (id ID) Compare(other ID) int {
	switch {
	case id.hi < other.hi:
		return -1
	case id.hi > other.hi:
		return 1
	case id.lo < other.lo:
		return -1
	case id.lo > other.lo:
		return 1
	}
	return 0
}

// Bytes returns the 16-byte big-endian form, which sorts like [ID.Compare].
func (id ID) Bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], id.hi)
	binary.BigEndian.PutUint64(b[8:], id.lo)
	return b
}

// IDFromBytes is the inverse of [ID.Bytes].
func IDFromBytes(b [16]byte) ID {
	return ID{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

// String returns 32 lower-case hex digits: the [ID.Bytes] form.
func (id ID) String() string {
	b := id.Bytes()
	return hex.EncodeToString(b[:])
}

// ParseID parses the form [ID.String] returns.
func ParseID(s string) (ID, error) {
	if len(s) != 32 {
		return ID{}, &ParseError{Type: "ID", Input: s, Pos: min(len(s), 32), Msg: fmt.Sprintf("want 32 hex digits, have %d bytes", len(s))}
	}
	var b [16]byte
	if pos, ok := decodeHex(b[:], s); !ok {
		return ID{}, &ParseError{Type: "ID", Input: s, Pos: pos, Msg: "not a lower-case hex digit"}
	}
	return IDFromBytes(b), nil
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// decodeHex decodes lower-case hex s into dst (len(s) == 2*len(dst)) and
// returns the position of the first bad byte when it fails.
func decodeHex(dst []byte, s string) (int, bool) {
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		if !ok1 {
			return 2 * i, false
		}
		lo, ok2 := fromHex(s[2*i+1])
		if !ok2 {
			return 2*i + 1, false
		}
		dst[i] = hi<<4 | lo
	}
	return 0, true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// IDGenerator makes IDs for one node. It is safe for concurrent use; the
// zero value is not usable: call [NewIDGenerator].
type IDGenerator struct {
	lo   uint64
	last atomic.Uint64 // the high half of the last ID made
}

// NewIDGenerator returns a generator for the given node number.
func NewIDGenerator(node uint32) *IDGenerator {
	salt := rand.Uint32() | 1 // never zero, so no generated ID is the zero ID
	return &IDGenerator{lo: uint64(node)<<32 | uint64(salt)}
}

// Next returns a new ID stamped with the current time.
func (g *IDGenerator) Next() ID { return g.NextAt(Now()) }

// NextAt returns a new ID stamped with nanos (Unix nanoseconds), or with one
// more than the previous ID's time where nanos would not be greater.
func (g *IDGenerator) NextAt(nanos int64) ID {
	n := uint64(nanos)
	for {
		last := g.last.Load()
		next := max(n, last+1)
		if g.last.CompareAndSwap(last, next) {
			return ID{hi: next, lo: g.lo}
		}
	}
}

// Stamp gives ev an ID and a Time where it has none, both from one
// reading of the clock, and returns that reading; it returns 0 and leaves
// ev alone when ev already has both. The bus and the journal stamp events
// with it, so an event gets the same treatment wherever it enters.
func (g *IDGenerator) Stamp(ev *Event) int64 {
	if ev.Time != 0 && !ev.ID.IsZero() {
		return 0
	}
	now := Now()
	if ev.Time == 0 {
		ev.Time = now
	}
	if ev.ID.IsZero() {
		ev.ID = g.NextAt(now)
	}
	return now
}

// Node returns the generator's node number.
func (g *IDGenerator) Node() uint32 { return uint32(g.lo >> 32) }

// The process clock: wall time at start plus the monotonic time since, which
// costs one clock read instead of time.Now's two and never steps backwards.
var (
	clockStart     = time.Now()
	clockStartWall = clockStart.UnixNano()
)

// Now returns the current time in Unix nanoseconds from semevent's process
// clock: anchored to the wall clock when the process started and advanced by
// the monotonic clock, so it never goes backwards.
func Now() int64 { return clockStartWall + int64(time.Since(clockStart)) }
