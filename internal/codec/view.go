package codec

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math/bits"
	"unsafe"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/varint"
)

// View reads the fields of one encoded record straight from its bytes: no
// field is copied and nothing is allocated until [View.Event] materialises
// a [semevent.Event]. [Parse] checks the whole record once, exactly as
// [Decode] does, so the accessors never fail.
//
// Lifetime: the []byte and string accessors return views into the bytes
// given to Parse. They are valid only while those bytes are: for a record
// read from the shared-memory channel, until the next read from the same
// reader (which reuses the buffer). Copy what must outlive it, or call
// [View.Event].
type View struct {
	b      []byte
	flags  byte
	str    [4]span // Topic, Tenant, Path, OldPath
	inode  uint64
	pid    uint32
	uid    uint32
	gid    uint32
	offset int64
	size   int64
	time   int64
	trace  int // offset of the trace context, when present
	cause  int // offset of the cause ID, when present
	attrs  int // offset of the first attribute
	nattrs int
	obs    int // offset of the first observation
	nobs   int
	data   span
}

type span struct{ off, n int }

const (
	offID       = 2
	offKind     = offID + 16
	offBoundary = offKind + 1
	offPriority = offKind + 2
	offSeen     = offKind + 3
	offStrings  = offKind + 4
)

// Parse checks that b is one well-formed record (of any version [Decode]
// reads) and points v at it. It returns the same *[Error] as Decode for the
// same bytes, and allocates only to build that error.
//
// A well-formed record is parsed in one pass of inlined reads
// ([parseFast]); anything else is parsed again by [parseChecked], which
// finds the error and its byte position.
func Parse(b []byte, v *View) error {
	if parseFast(b, v) {
		return nil
	}
	return parseChecked(b, v)
}

// parseFast parses a well-formed record into v in one pass and reports
// whether it was one. It accepts exactly the records parseChecked accepts
// and fills v identically (TestParseFastAgrees, FuzzParseFast); on false,
// v is garbage and parseChecked overwrites it.
//
// It is written for the profile of BenchmarkView, where the old
// step-by-step parser spent its time in calls (decoder.uvarint, span,
// length, varint.Uvarint, binary.Uvarint) and their error bookkeeping: the
// one-byte varint, which most lengths and small integers are, is read
// inline with one compare; longer ones go to uvarintLong, a loop over b
// without re-slicing; every index is checked once as an unsigned compare
// against len(b), which also spares the compiler's own bounds checks.
func parseFast(b []byte, v *View) bool {
	if len(b) < offStrings || b[0] != Version || b[1]&^flagsKnown != 0 {
		return false
	}
	flags := b[1]
	pos := offStrings
	var n uint64
	var ok bool
	// Topic, Tenant, Path, OldPath: a uvarint length and the bytes each.
	for i := range v.str {
		if uint(pos) < uint(len(b)) && b[pos] < 0x80 {
			n, pos = uint64(b[pos]), pos+1
		} else if n, pos, ok = uvarintLong(b, pos); !ok {
			return false
		}
		if n > uint64(len(b)-pos) {
			return false
		}
		v.str[i] = span{pos, int(n)}
		pos += int(n)
	}
	if uint(pos) < uint(len(b)) && b[pos] < 0x80 {
		v.inode, pos = uint64(b[pos]), pos+1
	} else if v.inode, pos, ok = uvarintLong(b, pos); !ok {
		return false
	}
	for _, p := range [...]*uint32{&v.pid, &v.uid, &v.gid} {
		if uint(pos) < uint(len(b)) && b[pos] < 0x80 {
			n, pos = uint64(b[pos]), pos+1
		} else if n, pos, ok = uvarintLong(b, pos); !ok || n > 1<<32-1 {
			return false
		}
		*p = uint32(n)
	}
	for _, p := range [...]*int64{&v.offset, &v.size, &v.time} {
		if uint(pos) < uint(len(b)) && b[pos] < 0x80 {
			n, pos = uint64(b[pos]), pos+1
		} else if n, pos, ok = uvarintLong(b, pos); !ok {
			return false
		}
		*p = int64(n>>1) ^ -int64(n&1) // zig-zag
	}
	v.trace, v.cause, v.attrs, v.nattrs, v.obs, v.nobs = 0, 0, 0, 0, 0, 0
	if flags != 0 {
		if pos, ok = parseOptional(b, pos, flags, v); !ok {
			return false
		}
	}
	if uint(pos) < uint(len(b)) && b[pos] < 0x80 {
		n, pos = uint64(b[pos]), pos+1
	} else if n, pos, ok = uvarintLong(b, pos); !ok {
		return false
	}
	if n != uint64(len(b)-pos) { // Data ends the record: no trailing bytes
		return false
	}
	v.data = span{pos, int(n)}
	v.b, v.flags = b, flags
	return true
}

// parseOptional is parseFast for the optional fields (trace context,
// cause, attributes, observations), out of line to keep the common record
// short.
func parseOptional(b []byte, pos int, flags byte, v *View) (int, bool) {
	var ok bool
	var n uint64
	if flags&flagTrace != 0 {
		if len(b)-pos < 25 {
			return 0, false
		}
		v.trace = pos
		pos += 25
	}
	if flags&flagCause != 0 {
		if len(b)-pos < 16 {
			return 0, false
		}
		v.cause = pos
		pos += 16
	}
	if flags&flagAttrs != 0 {
		if n, pos, ok = uvarintLong(b, pos); !ok || n == 0 || n > uint64((len(b)-pos)/2) {
			return 0, false
		}
		v.nattrs, v.attrs = int(n), pos
		for range 2 * v.nattrs {
			var l uint64
			if l, pos, ok = uvarintLong(b, pos); !ok || l > uint64(len(b)-pos) {
				return 0, false
			}
			pos += int(l)
		}
	}
	if flags&flagObserved != 0 {
		if n, pos, ok = uvarintLong(b, pos); !ok || n == 0 || n > uint64((len(b)-pos)/19) {
			return 0, false
		}
		v.nobs, v.obs = int(n), pos
		for range v.nobs {
			if len(b)-pos < 17 {
				return 0, false
			}
			if _, pos, ok = uvarintLong(b, pos+17); !ok { // Time
				return 0, false
			}
			var pid uint64
			if pid, pos, ok = uvarintLong(b, pos); !ok || pid > 1<<32-1 {
				return 0, false
			}
		}
	}
	return pos, true
}

// uvarintLong reads the uvarint at b[pos:] as [varint.Uvarint] does (minimal
// encodings only, at most 64 bits): its value, the position after it, and
// false if it is cut short, overflows or is padded. With 8 bytes to read
// from, a varint of up to 9 bytes is decoded from one 64-bit load without a
// loop; shorter tails and 10-byte varints take the byte loop.
func uvarintLong(b []byte, pos int) (uint64, int, bool) {
	// Two bytes (PIDs, UIDs, small sizes) are common enough to go first.
	if uint(pos+1) < uint(len(b)) && b[pos] >= 0x80 && b[pos+1] < 0x80 {
		if b[pos+1] == 0 {
			return 0, pos, false // padded
		}
		return uint64(b[pos]&0x7f) | uint64(b[pos+1])<<7, pos + 2, true
	}
	if pos >= 0 && len(b)-pos >= 8 {
		w := binary.LittleEndian.Uint64(b[pos:])
		if m := ^w & 0x8080808080808080; m != 0 {
			k := bits.TrailingZeros64(m) >> 3 // index of the varint's last byte
			if k > 0 && byte(w>>(8*k)) == 0 {
				return 0, pos, false // padded
			}
			return compact7(w & (1<<(8*k+8) - 1)), pos + k + 1, true
		}
		if uint(pos+8) < uint(len(b)) {
			if c := b[pos+8]; c < 0x80 {
				if c == 0 {
					return 0, pos, false // padded
				}
				return compact7(w) | uint64(c)<<56, pos + 9, true
			}
		}
	}
	var x uint64
	for s := uint(0); s < 64; s += 7 {
		if uint(pos) >= uint(len(b)) {
			return 0, pos, false
		}
		c := b[pos]
		pos++
		if c < 0x80 {
			if (s == 63 && c > 1) || (c == 0 && s > 0) { // overflow, or padded
				return 0, pos, false
			}
			return x | uint64(c)<<s, pos, true
		}
		x |= uint64(c&0x7f) << s
	}
	return 0, pos, false // more than 10 bytes
}

// compact7 packs the low 7 bits of each of w's 8 bytes (little-endian)
// into 56 bits: the value of the varint bytes w holds. It merges
// neighbours in three steps (bytes into 14-bit, then 28-bit, then 56-bit
// lanes) instead of moving the eight groups one by one.
func compact7(w uint64) uint64 {
	w = w&0x007f007f007f007f | w>>1&0x3f803f803f803f80
	w = w&0x00003fff00003fff | w>>2&0x0fffc0000fffc000
	return w&0x000000000fffffff | w>>4&0x00fffffff0000000
}

// parseChecked parses b step by step, stopping at the first problem with
// a *[Error] naming the byte and the field.
func parseChecked(b []byte, v *View) error {
	d := decoder{b: b}
	switch ver := d.byte1("version"); {
	case d.err != nil:
		return d.err
	case ver != Version:
		d.pos = 0
		d.fail(fmt.Sprintf("unknown version %d", ver))
		return d.err
	}
	flags := d.byte1("flags")
	if flags&^flagsKnown != 0 {
		d.pos--
		d.fail(fmt.Sprintf("unknown flags %#x", flags&^flagsKnown))
		return d.err
	}
	*v = View{b: b, flags: flags}
	d.bytes(16, "ID")
	d.byte1("Kind")
	d.byte1("Boundary")
	d.byte1("Priority")
	d.byte1("Seen")
	v.str[0] = d.span("Topic")
	v.str[1] = d.span("Tenant")
	v.str[2] = d.span("Path")
	v.str[3] = d.span("OldPath")
	v.inode = d.uvarint("Inode")
	v.pid = d.uint32("PID")
	v.uid = d.uint32("UID")
	v.gid = d.uint32("GID")
	v.offset = d.varint("Offset")
	v.size = d.varint("Size")
	v.time = d.varint("Time")
	if flags&flagTrace != 0 {
		v.trace = d.pos
		d.bytes(25, "Trace")
	}
	if flags&flagCause != 0 {
		v.cause = d.pos
		d.bytes(16, "Cause")
	}
	if flags&flagAttrs != 0 {
		v.nattrs = d.count("Attrs", 2)
		v.attrs = d.pos
		for range v.nattrs {
			d.span("Attrs.Key")
			d.span("Attrs.Value")
		}
	}
	if flags&flagObserved != 0 {
		v.nobs = d.count("Observed", 19)
		v.obs = d.pos
		for range v.nobs {
			d.bytes(16, "Observed.ID")
			d.byte1("Observed.Boundary")
			d.varint("Observed.Time")
			d.uint32("Observed.PID")
		}
	}
	v.data = d.span("Data")
	if d.err == nil && d.pos != len(d.b) {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)-d.pos))
	}
	if d.err != nil {
		*v = View{}
	}
	return d.err
}

// span reads a length-prefixed byte string and returns where it lies.
func (d *decoder) span(what string) span {
	n := d.length(what)
	if d.err != nil {
		return span{}
	}
	s := span{d.pos, n}
	d.pos += n
	return s
}

func (v *View) bytes(s span) []byte { return v.b[s.off : s.off+s.n : s.off+s.n] }

// Bytes returns the whole record.
func (v *View) Bytes() []byte { return v.b }

// ID returns the event's ID.
func (v *View) ID() semevent.ID { return semevent.IDFromBytes([16]byte(v.b[offID:])) }

// Kind returns the event's Kind.
func (v *View) Kind() semevent.Kind { return semevent.Kind(v.b[offKind]) }

// Boundary returns the event's Boundary.
func (v *View) Boundary() semevent.Boundary { return semevent.Boundary(v.b[offBoundary]) }

// Priority returns the event's Priority.
func (v *View) Priority() semevent.Priority { return semevent.Priority(int8(v.b[offPriority])) }

// Seen returns the event's Seen set.
func (v *View) Seen() semevent.BoundarySet { return semevent.BoundarySet(v.b[offSeen]) }

// Topic returns the event's Topic as a view into the record.
func (v *View) Topic() []byte { return v.bytes(v.str[0]) }

// Tenant returns the event's Tenant as a view into the record.
func (v *View) Tenant() []byte { return v.bytes(v.str[1]) }

// Path returns the event's Path as a view into the record.
func (v *View) Path() []byte { return v.bytes(v.str[2]) }

// OldPath returns the event's OldPath as a view into the record.
func (v *View) OldPath() []byte { return v.bytes(v.str[3]) }

// PathString returns the event's Path as a string that shares the record's
// memory (no copy): it is valid only as long as the record's bytes, and
// must not be kept past that (see [View]).
func (v *View) PathString() string { return v.unsafeString(v.str[2]) }

// TopicString is [View.PathString] for the Topic.
func (v *View) TopicString() string { return v.unsafeString(v.str[0]) }

// Inode returns the event's Inode.
func (v *View) Inode() uint64 { return v.inode }

// PID returns the event's PID.
func (v *View) PID() uint32 { return v.pid }

// UID returns the event's UID.
func (v *View) UID() uint32 { return v.uid }

// GID returns the event's GID.
func (v *View) GID() uint32 { return v.gid }

// Offset returns the event's Offset.
func (v *View) Offset() int64 { return v.offset }

// Size returns the event's Size.
func (v *View) Size() int64 { return v.size }

// Time returns the event's Time.
func (v *View) Time() int64 { return v.time }

// Trace returns the event's trace context (zero when absent).
func (v *View) Trace() semevent.TraceContext {
	if v.flags&flagTrace == 0 {
		return semevent.TraceContext{}
	}
	p := v.b[v.trace:]
	return semevent.TraceContext{TraceID: semevent.TraceID(p[:16]), SpanID: semevent.SpanID(p[16:24]), Flags: semevent.TraceFlags(p[24])}
}

// Cause returns the event's Cause (zero when absent).
func (v *View) Cause() semevent.ID {
	if v.flags&flagCause == 0 {
		return semevent.ID{}
	}
	return semevent.IDFromBytes([16]byte(v.b[v.cause:]))
}

// NumAttrs returns how many attributes the event has.
func (v *View) NumAttrs() int { return v.nattrs }

// Attrs iterates over the attributes in order, key and value as views into
// the record. It allocates nothing.
func (v *View) Attrs() iter.Seq2[[]byte, []byte] {
	return func(yield func(k, val []byte) bool) {
		pos := v.attrs
		for range v.nattrs {
			var k, val []byte
			k, pos = v.lenBytes(pos)
			val, pos = v.lenBytes(pos)
			if !yield(k, val) {
				return
			}
		}
	}
}

// NumObserved returns how many observations the event has.
func (v *View) NumObserved() int { return v.nobs }

// Observed iterates over the observations in order.
func (v *View) Observed() iter.Seq[semevent.Observation] {
	return func(yield func(semevent.Observation) bool) {
		pos := v.obs
		for range v.nobs {
			var o semevent.Observation
			pos = v.observation(pos, &o)
			if !yield(o) {
				return
			}
		}
	}
}

// Data returns the event's Data as a view into the record (nil when empty).
func (v *View) Data() []byte {
	if v.data.n == 0 {
		return nil
	}
	return v.bytes(v.data)
}

// lenBytes reads a length-prefixed byte string that Parse already checked.
func (v *View) lenBytes(pos int) ([]byte, int) {
	n, k := varint.Uvarint(v.b[pos:])
	pos += k
	return v.b[pos : pos+int(n) : pos+int(n)], pos + int(n)
}

// observation reads an observation that Parse already checked.
func (v *View) observation(pos int, o *semevent.Observation) int {
	o.ID = semevent.IDFromBytes([16]byte(v.b[pos:]))
	o.Boundary = semevent.Boundary(v.b[pos+16])
	pos += 17
	t, k := varint.Varint(v.b[pos:])
	o.Time = t
	pos += k
	p, k := varint.Uvarint(v.b[pos:])
	o.PID = uint32(p)
	return pos + k
}

// Event materialises the record into ev, overwriting every field. Like
// [Decode] it reuses ev.Attrs, ev.Observed and ev.Data when they have
// capacity and keeps a string equal to the one the same field held before,
// so decoding a stream into one Event allocates nothing for repeated
// strings. The event shares no memory with the record.
func (v *View) Event(ev *semevent.Event) {
	attrs, observed, data := ev.Attrs[:0], ev.Observed[:0], ev.Data[:0]
	prev := [4]string{ev.Topic, ev.Tenant, ev.Path, ev.OldPath}
	*ev = semevent.Event{
		ID: v.ID(), Kind: v.Kind(), Boundary: v.Boundary(), Priority: v.Priority(), Seen: v.Seen(),
		Inode: v.inode, PID: v.pid, UID: v.uid, GID: v.gid,
		Offset: v.offset, Size: v.size, Time: v.time,
		Trace: v.Trace(), Cause: v.Cause(),
	}
	ev.Topic = keep(v.bytes(v.str[0]), prev[0])
	ev.Tenant = keep(v.bytes(v.str[1]), prev[1])
	ev.Path = keep(v.bytes(v.str[2]), prev[2])
	ev.OldPath = keep(v.bytes(v.str[3]), prev[3])
	if v.nattrs > 0 {
		i := 0
		for k, val := range v.Attrs() {
			var old semevent.Attr
			if i < cap(attrs) {
				old = attrs[:i+1][i]
			}
			attrs = append(attrs, semevent.Attr{Key: keep(k, old.Key), Value: keep(val, old.Value)})
			i++
		}
		ev.Attrs = attrs
	}
	if v.nobs > 0 {
		for o := range v.Observed() {
			observed = append(observed, o)
		}
		ev.Observed = observed
	}
	if v.data.n > 0 {
		ev.Data = append(data, v.bytes(v.data)...)
	}
}

// keep returns prev when p spells it, else a new string of p.
func keep(p []byte, prev string) string {
	if len(p) == 0 {
		return ""
	}
	if string(p) == prev {
		return prev
	}
	return string(p)
}

// unsafeString returns the bytes of s as a string sharing the record's
// memory.
func (v *View) unsafeString(s span) string {
	if s.n == 0 {
		return ""
	}
	return unsafe.String(&v.b[s.off], s.n)
}
