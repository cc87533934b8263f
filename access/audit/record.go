package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/varint"
)

// Kind says what a record is.
type Kind uint8

const (
	// Decision records an access decision: who, which operation, on
	// what, allowed or denied, and why.
	Decision Kind = iota + 1
	// Admin records an administrative operation: a policy change, a rule
	// or workflow reload, a membership change.
	Admin
	// Checkpoint signs the chain up to and including the record before it.
	Checkpoint
	// Open is a trail's first record: its Target is the trail's identity
	// (a random [TrailID] fixed at creation, in hex), and it is signed
	// like a checkpoint.
	Open
	// Quarantine is a signed record that a Log writes, when asked to
	// (Options.QuarantineUnsignedTail), after records it found at start
	// that no checkpoint covered: it vouches for nothing before it but
	// says, in Reason, which records are not vouched for.
	Quarantine
)

func (k Kind) String() string {
	switch k {
	case Decision:
		return "decision"
	case Admin:
		return "admin"
	case Checkpoint:
		return "checkpoint"
	case Open:
		return "open"
	case Quarantine:
		return "quarantine"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Record is one entry of the audit trail. Prev is the hash of the record
// before it (zero for the first), which chains the trail: changing,
// removing or reordering a record breaks the chain at the next one.
type Record struct {
	Seq     uint64 // 0, 1, 2, … with no gap
	Time    int64  // Unix nanoseconds
	Kind    Kind
	User    string
	Tenant  string
	Roles   []string
	Op      string // "publish", "subscribe", "reload", …
	Allowed bool
	Topic   string
	Path    string
	EventID semevent.ID
	Target  string // what an admin operation acted on
	Reason  string
	Prev    [32]byte
	Sig     []byte // Open, Checkpoint, Quarantine: ed25519 signature, see Signed
}

// Signed reports whether the record carries a signature: Open,
// Checkpoint and Quarantine records do. The signature covers every byte
// of the record but the signature itself, and the trail's identity.
func (k Kind) Signed() bool { return k == Checkpoint || k == Open || k == Quarantine }

const recordVersion = 1

// Hash returns the SHA-256 of the record's encoding: what the next
// record's Prev must be.
func (r *Record) Hash() [32]byte { return sha256.Sum256(r.AppendBinary(nil)) }

// AppendBinary appends the record's encoding to b: a version byte, then
// each field, integers as varints and strings and byte slices with a
// varint length.
func (r *Record) AppendBinary(b []byte) []byte {
	b = append(b, recordVersion)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Time)
	b = append(b, byte(r.Kind))
	b = appendString(b, r.User)
	b = appendString(b, r.Tenant)
	b = binary.AppendUvarint(b, uint64(len(r.Roles)))
	for _, role := range r.Roles {
		b = appendString(b, role)
	}
	b = appendString(b, r.Op)
	if r.Allowed {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendString(b, r.Topic)
	b = appendString(b, r.Path)
	id := r.EventID.Bytes()
	b = append(b, id[:]...)
	b = appendString(b, r.Target)
	b = appendString(b, r.Reason)
	b = append(b, r.Prev[:]...)
	b = appendString(b, string(r.Sig))
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// MaxRecordSize bounds one encoded record.
const MaxRecordSize = 1 << 20

// DecodeError reports bytes that are not a record: where and why.
type DecodeError struct {
	Pos int // byte position in the record
	Msg string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("audit: bad record at byte %d: %s", e.Pos, e.Msg)
}

// Decode parses one record encoded by AppendBinary. It never panics; bad
// input yields a *DecodeError.
func Decode(b []byte) (*Record, error) {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != recordVersion {
		return nil, &DecodeError{Pos: 0, Msg: fmt.Sprintf("unknown version %d", v)}
	}
	r := &Record{}
	r.Seq = d.uvarint()
	r.Time = d.varint()
	r.Kind = Kind(d.byte())
	r.User = d.string()
	r.Tenant = d.string()
	if n := d.uvarint(); d.err == nil {
		if n > uint64(len(d.b)-d.pos) {
			d.fail("role count %d exceeds the record", n)
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			r.Roles = append(r.Roles, d.string())
		}
	}
	r.Op = d.string()
	switch d.byte() {
	case 0:
	case 1:
		r.Allowed = true
	default:
		d.fail("allowed flag is not 0 or 1")
	}
	r.Topic = d.string()
	r.Path = d.string()
	var id [16]byte
	copy(id[:], d.bytes(16))
	r.EventID = semevent.IDFromBytes(id)
	r.Target = d.string()
	r.Reason = d.string()
	copy(r.Prev[:], d.bytes(32))
	if sig := d.string(); sig != "" {
		r.Sig = []byte(sig)
	}
	if d.err == nil && d.pos != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.pos)
	}
	if d.err == nil && (r.Kind < Decision || r.Kind > Quarantine) {
		d.fail("unknown kind %d", uint8(r.Kind))
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

type decoder struct {
	b   []byte
	pos int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Pos: d.pos, Msg: fmt.Sprintf(format, args...)}
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.pos]
	d.pos++
	return c
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b)-d.pos < n {
		d.fail("truncated: want %d bytes", n)
		return nil
	}
	s := d.b[d.pos : d.pos+n]
	d.pos += n
	return s
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := varint.Uvarint(d.b[d.pos:])
	if n <= 0 {
		d.fail("bad or non-minimal varint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := varint.Varint(d.b[d.pos:])
	if n <= 0 {
		d.fail("bad or non-minimal varint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)-d.pos) {
		d.fail("string of %d bytes exceeds the record", n)
		return ""
	}
	return string(d.bytes(int(n)))
}
