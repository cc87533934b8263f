package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// VerifyError reports the first record where the trail is not intact: its
// index in the trail, its byte offset in a file store (-1 when unknown),
// and why.
type VerifyError struct {
	Index  int
	Offset int64
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("audit: trail broken at record %d (byte %d): %s", e.Index, e.Offset, e.Reason)
	}
	return fmt.Sprintf("audit: trail broken at record %d: %s", e.Index, e.Reason)
}

// ErrKeySize is returned by Verify, VerifyFile and New for a key that is
// not an ed25519 key (a nil or short slice): it names the length.
var ErrKeySize = errors.New("audit: not an ed25519 key")

// TrailID identifies one trail: random, fixed when the trail is created
// (in its Open record), and signed into every checkpoint, so that another
// trail signed by the same key does not verify in its place. Keep it with
// the public key and pass it as VerifyOptions.Trail and Options.Trail.
type TrailID [16]byte

// NewTrailID returns a random TrailID.
func NewTrailID() TrailID {
	var id TrailID
	if _, err := rand.Read(id[:]); err != nil {
		panic("audit: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	return id
}

// String returns the id in hex.
func (id TrailID) String() string { return hex.EncodeToString(id[:]) }

// ParseTrailID parses the hex form String returns.
func ParseTrailID(s string) (TrailID, error) {
	var id TrailID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("audit: trail id %q is not %d hex bytes", s, len(id))
	}
	copy(id[:], b)
	return id, nil
}

// Anchor is a chain head kept outside the trail (see Log.Head). A trail
// that no longer holds it was cut back or rewritten.
type Anchor struct {
	Seq  uint64   // the record's sequence number
	Hash [32]byte // its hash
}

// VerifyOptions tune Verify. The zero value is strict.
type VerifyOptions struct {
	// AllowUnsignedTail accepts records after the last checkpoint, as in
	// a trail that is still being written. By default every record must
	// be covered by a signed checkpoint, so a forged record appended to a
	// closed trail is detected.
	AllowUnsignedTail bool
	// Anchor, when set, must still be in the trail.
	Anchor *Anchor
	// Trail, when not zero, is the identity the trail must have: a trail
	// swapped for another one signed by the same key fails.
	Trail TrailID
}

// Report sums up an intact trail.
type Report struct {
	Trail       TrailID // from the Open record
	Records     int
	Checkpoints int    // signed records: Open, Checkpoint, Quarantine
	Quarantined int    // records a Quarantine record says are not vouched for
	Head        Anchor // the last record
	Signed      Anchor // the last signed record
	Unsigned    int    // records after the last signed one
}

// Verify checks a trail of encoded records: each decodes, the first is
// an Open record naming the trail, sequence numbers run from 0 with no
// gap, each record's Prev is the hash of the one before, every signed
// record's signature verifies with pub over all of its bytes and the
// trail's identity, and (unless allowed) no record follows the last
// signed one. The error is the first *VerifyError found, or ErrKeySize.
func Verify(recs [][]byte, pub ed25519.PublicKey, opts *VerifyOptions) (*Report, error) {
	v, err := newVerifier(pub, opts)
	if err != nil {
		return &Report{}, err
	}
	for _, raw := range recs {
		if err := v.add(raw, -1); err != nil {
			return &v.rep, err
		}
	}
	return &v.rep, v.finish(-1)
}

// VerifyFile verifies the trail in a FileStore file.
func VerifyFile(path string, pub ed25519.PublicKey, opts *VerifyOptions) (*Report, error) {
	v, err := newVerifier(pub, opts)
	if err != nil {
		return &Report{}, err
	}
	end, err := scanFrames(path, v.add)
	if err != nil {
		return &v.rep, err
	}
	return &v.rep, v.finish(end)
}

// verifier checks a trail record by record, holding only the chain state.
type verifier struct {
	pub      ed25519.PublicKey
	opts     VerifyOptions
	rep      Report
	prev     [32]byte
	i        int
	anchored bool

	unsignedOff int64 // where the records after the last signed one start
}

func newVerifier(pub ed25519.PublicKey, opts *VerifyOptions) (*verifier, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: public key of %d bytes, want %d", ErrKeySize, len(pub), ed25519.PublicKeySize)
	}
	v := &verifier{pub: pub}
	if opts != nil {
		v.opts = *opts
	}
	v.anchored = v.opts.Anchor == nil
	return v, nil
}

// add checks the next record; off is its byte offset (-1 when unknown).
func (v *verifier) add(raw []byte, off int64) error {
	i := v.i
	fail := func(format string, args ...any) error {
		return &VerifyError{Index: i, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	r, err := Decode(raw)
	if err != nil {
		return fail("%v", err)
	}
	if r.Seq != uint64(i) {
		return fail("sequence number %d, want %d: a record was removed, added or moved", r.Seq, i)
	}
	if r.Prev != v.prev {
		return fail("previous-record hash does not match record %d: a record before it was changed", i-1)
	}
	if (i == 0) != (r.Kind == Open) {
		if i == 0 {
			return fail("the first record is a %v, not the Open record that names the trail", r.Kind)
		}
		return fail("an Open record in the middle of the trail")
	}
	if r.Kind == Open {
		id, err := ParseTrailID(r.Target)
		if err != nil {
			return fail("Open record: %v", err)
		}
		if v.opts.Trail != (TrailID{}) && id != v.opts.Trail {
			return fail("trail %v, want %v: this is another trail", id, v.opts.Trail)
		}
		v.rep.Trail = id
	}
	v.prev = sha256.Sum256(raw)
	if r.Kind.Signed() {
		if !ed25519.Verify(v.pub, signedBytes(v.rep.Trail, r), r.Sig) {
			return fail("%v signature does not verify", r.Kind)
		}
		if r.Kind == Quarantine {
			v.rep.Quarantined += v.rep.Unsigned
		}
		v.rep.Checkpoints++
		v.rep.Signed = Anchor{Seq: r.Seq, Hash: v.prev}
		v.rep.Unsigned = 0
	} else {
		if v.rep.Unsigned == 0 {
			v.unsignedOff = off
		}
		v.rep.Unsigned++
	}
	if a := v.opts.Anchor; a != nil && a.Seq == r.Seq {
		if a.Hash != v.prev {
			return fail("record differs from the anchor kept outside the trail")
		}
		v.anchored = true
	}
	v.rep.Records++
	v.rep.Head = Anchor{Seq: r.Seq, Hash: v.prev}
	v.i++
	return nil
}

// finish checks the end of the trail; end is its byte length (-1 when
// unknown).
func (v *verifier) finish(end int64) error {
	if v.i == 0 && (v.opts.Anchor != nil || v.opts.Trail != (TrailID{})) {
		return &VerifyError{Index: 0, Offset: end, Reason: "the trail is empty"}
	}
	if !v.anchored {
		return &VerifyError{Index: v.i, Offset: end, Reason: fmt.Sprintf("trail ends before the anchor at record %d: it was cut back", v.opts.Anchor.Seq)}
	}
	if !v.opts.AllowUnsignedTail && v.rep.Unsigned > 0 {
		return &VerifyError{Index: v.i - v.rep.Unsigned, Offset: v.unsignedOff, Reason: "record not covered by a signed checkpoint"}
	}
	return nil
}

// signedBytes is what a signed record signs: the domain, the trail's
// identity and the record's whole encoding without its signature.
func signedBytes(trail TrailID, r *Record) []byte {
	b := []byte("semevent audit v2\x00")
	b = append(b, trail[:]...)
	c := *r
	c.Sig = nil
	return c.AppendBinary(b)
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Head returns the chain head: the last record written, for keeping as an
// Anchor outside the trail.
func (l *Log) Head() Anchor {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq == 0 {
		return Anchor{}
	}
	return Anchor{Seq: l.seq - 1, Hash: l.prev}
}

// Trail returns the identity of the trail the Log writes.
func (l *Log) Trail() TrailID { return l.trail }
