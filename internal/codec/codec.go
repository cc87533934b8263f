// Package codec is the versioned binary encoding of a [semevent.Event] that
// the journal writes to disk and that replication can reuse: every field of
// the event, context included, in a compact form that later versions extend
// without breaking the records earlier versions wrote.
//
// # Format, version 1
//
// A record is one version byte (1) followed by, in order:
//
//	flags     1 byte: bit 0 trace context present, bit 1 cause present,
//	          bit 2 attributes present, bit 3 observations present
//	ID        16 bytes, [semevent.ID.Bytes]
//	Kind, Boundary, Priority, Seen   1 byte each
//	Topic, Tenant, Path, OldPath     uvarint length + bytes each
//	Inode, PID, UID, GID             uvarint each
//	Offset, Size, Time               zig-zag varint each
//	Trace     16+8+1 bytes (trace id, span id, flags), if flags bit 0
//	Cause     16 bytes, if flags bit 1
//	Attrs     uvarint count, then key and value as uvarint length + bytes,
//	          if flags bit 2
//	Observed  uvarint count, then ID (16), Boundary (1), Time (zig-zag
//	          varint), PID (uvarint) each, if flags bit 3
//	Data      uvarint length + bytes
//
// A later version writes a higher version byte and may add fields after
// Data; [Decode] keeps decoding every version it has ever written, so
// records on disk stay readable by newer code. Decode never panics on bad
// input: it returns a *[Error] with the byte position.
package codec

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/varint"
)

// Version is the version byte [Append] writes.
const Version = 1

const (
	flagTrace = 1 << iota
	flagCause
	flagAttrs
	flagObserved
	flagsKnown = flagTrace | flagCause | flagAttrs | flagObserved
)

// ErrMalformed is wrapped by every *[Error] that Decode returns.
var ErrMalformed = errors.New("codec: malformed event record")

// Error reports a record that could not be decoded: the byte position in
// the record and what was wrong there.
type Error struct {
	Pos int
	Msg string
}

func (e *Error) Error() string {
	return fmt.Sprintf("codec: malformed event record at byte %d: %s", e.Pos, e.Msg)
}

// Unwrap returns [ErrMalformed].
func (e *Error) Unwrap() error { return ErrMalformed }

// Size returns an upper bound of the number of bytes Append adds for ev.
func Size(ev *semevent.Event) int {
	n := 1 + 1 + 16 + 4 + 4*binary.MaxVarintLen64 + 7*binary.MaxVarintLen64 + 25 + 16
	n += len(ev.Topic) + len(ev.Tenant) + len(ev.Path) + len(ev.OldPath)
	n += binary.MaxVarintLen64
	for _, a := range ev.Attrs {
		n += 2*binary.MaxVarintLen64 + len(a.Key) + len(a.Value)
	}
	n += binary.MaxVarintLen64 + len(ev.Observed)*(17+2*binary.MaxVarintLen64)
	n += binary.MaxVarintLen64 + len(ev.Data)
	return n
}

// Append appends the version-1 encoding of ev to dst and returns the
// extended slice. It does not allocate when dst has room for [Size](ev).
func Append(dst []byte, ev *semevent.Event) []byte {
	var flags byte
	if ev.Trace != (semevent.TraceContext{}) {
		flags |= flagTrace
	}
	if !ev.Cause.IsZero() {
		flags |= flagCause
	}
	if len(ev.Attrs) > 0 {
		flags |= flagAttrs
	}
	if len(ev.Observed) > 0 {
		flags |= flagObserved
	}
	id := ev.ID.Bytes()
	dst = append(dst, Version, flags)
	dst = append(dst, id[:]...)
	dst = append(dst, byte(ev.Kind), byte(ev.Boundary), byte(ev.Priority), byte(ev.Seen))
	dst = appendString(dst, ev.Topic)
	dst = appendString(dst, ev.Tenant)
	dst = appendString(dst, ev.Path)
	dst = appendString(dst, ev.OldPath)
	dst = binary.AppendUvarint(dst, ev.Inode)
	dst = binary.AppendUvarint(dst, uint64(ev.PID))
	dst = binary.AppendUvarint(dst, uint64(ev.UID))
	dst = binary.AppendUvarint(dst, uint64(ev.GID))
	dst = binary.AppendVarint(dst, ev.Offset)
	dst = binary.AppendVarint(dst, ev.Size)
	dst = binary.AppendVarint(dst, ev.Time)
	if flags&flagTrace != 0 {
		dst = append(dst, ev.Trace.TraceID[:]...)
		dst = append(dst, ev.Trace.SpanID[:]...)
		dst = append(dst, byte(ev.Trace.Flags))
	}
	if flags&flagCause != 0 {
		c := ev.Cause.Bytes()
		dst = append(dst, c[:]...)
	}
	if flags&flagAttrs != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(ev.Attrs)))
		for _, a := range ev.Attrs {
			dst = appendString(dst, a.Key)
			dst = appendString(dst, a.Value)
		}
	}
	if flags&flagObserved != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(ev.Observed)))
		for _, o := range ev.Observed {
			oid := o.ID.Bytes()
			dst = append(dst, oid[:]...)
			dst = append(dst, byte(o.Boundary))
			dst = binary.AppendVarint(dst, o.Time)
			dst = binary.AppendUvarint(dst, uint64(o.PID))
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(ev.Data)))
	return append(dst, ev.Data...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads a record.
type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &Error{Pos: d.pos, Msg: msg}
	}
}

func (d *decoder) bytes(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b)-d.pos {
		d.fail(fmt.Sprintf("%s: need %d bytes, have %d", what, n, len(d.b)-d.pos))
		return nil
	}
	p := d.b[d.pos : d.pos+n]
	d.pos += n
	return p
}

func (d *decoder) byte1(what string) byte {
	p := d.bytes(1, what)
	if p == nil {
		return 0
	}
	return p[0]
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	// Most lengths and small integers take one byte: skip the loop.
	if d.pos < len(d.b) && d.b[d.pos] < 0x80 {
		d.pos++
		return uint64(d.b[d.pos-1])
	}
	v, n := varint.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.fail(what + ": bad uvarint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) uint32(what string) uint32 {
	start := d.pos
	v := d.uvarint(what)
	if v > 1<<32-1 {
		d.pos = start
		d.fail(fmt.Sprintf("%s: %d overflows uint32", what, v))
		return 0
	}
	return uint32(v)
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := varint.Varint(d.b[d.pos:])
	if n <= 0 {
		d.fail(what + ": bad varint")
		return 0
	}
	d.pos += n
	return v
}

// length reads a uvarint length that must fit in the rest of the record.
func (d *decoder) length(what string) int {
	start := d.pos
	v := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if v > uint64(len(d.b)-d.pos) {
		d.pos = start
		d.fail(fmt.Sprintf("%s: length %d exceeds the %d bytes left", what, v, len(d.b)-d.pos))
		return 0
	}
	return int(v)
}

// Decode decodes one record that [Append] (of this or an earlier version)
// wrote into ev, overwriting every field. ev.Attrs, ev.Observed and ev.Data
// are reused when they have capacity, so callers that keep an event must not
// pass it again. A string equal to the one the same field held before is
// kept rather than allocated again. Decode rejects
// trailing bytes, unknown versions and unknown flags with a *[Error].
// It is [Parse] followed by [View.Event].
func Decode(b []byte, ev *semevent.Event) error {
	var v View
	if err := Parse(b, &v); err != nil {
		return err
	}
	v.Event(ev)
	return nil
}

// count reads an element count, each element taking at least min bytes,
// and rejects counts the rest of the record cannot hold.
func (d *decoder) count(what string, min int) int {
	start := d.pos
	v := d.uvarint(what)
	if d.err != nil {
		return 0
	}
	if v == 0 || v > uint64((len(d.b)-d.pos)/min) {
		d.pos = start
		d.fail(fmt.Sprintf("%s: count %d does not fit the %d bytes left", what, v, len(d.b)-d.pos))
		return 0
	}
	return int(v)
}
