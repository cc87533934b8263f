package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
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
}

// Report sums up an intact trail.
type Report struct {
	Records     int
	Checkpoints int
	Head        Anchor // the last record
}

// Verify checks a trail of encoded records: each decodes, sequence
// numbers run from 0 with no gap, each record's Prev is the hash of the
// one before, every checkpoint's signature verifies with pub, and (unless
// allowed) no record follows the last checkpoint. The error is the first
// *VerifyError found.
func Verify(recs [][]byte, pub ed25519.PublicKey, opts *VerifyOptions) (*Report, error) {
	return verify(recs, nil, pub, opts)
}

// VerifyFile verifies the trail in a FileStore file.
func VerifyFile(path string, pub ed25519.PublicKey, opts *VerifyOptions) (*Report, error) {
	frames, end, err := readFrames(path)
	recs := make([][]byte, len(frames))
	offs := make([]int64, len(frames))
	for i, f := range frames {
		recs[i], offs[i] = f.data, f.off
	}
	rep, verr := verify(recs, offs, pub, opts)
	if verr != nil {
		return rep, verr
	}
	if err != nil {
		if ve, ok := err.(*VerifyError); ok {
			ve.Offset = end
		}
		return rep, err
	}
	return rep, nil
}

func verify(recs [][]byte, offs []int64, pub ed25519.PublicKey, opts *VerifyOptions) (*Report, error) {
	if opts == nil {
		opts = &VerifyOptions{}
	}
	fail := func(i int, format string, args ...any) error {
		off := int64(-1)
		if offs != nil && i < len(offs) {
			off = offs[i]
		}
		return &VerifyError{Index: i, Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	rep := &Report{}
	var prev [32]byte
	lastSigned := -1
	anchored := opts.Anchor == nil
	for i, raw := range recs {
		r, err := Decode(raw)
		if err != nil {
			return rep, fail(i, "%v", err)
		}
		if r.Seq != uint64(i) {
			return rep, fail(i, "sequence number %d, want %d: a record was removed, added or moved", r.Seq, i)
		}
		if r.Prev != prev {
			return rep, fail(i, "previous-record hash does not match record %d: a record before it was changed", i-1)
		}
		if r.Kind == Checkpoint {
			if !ed25519.Verify(pub, signedBytes(r.Seq, r.Prev), r.Sig) {
				return rep, fail(i, "checkpoint signature does not verify")
			}
			lastSigned = i
			rep.Checkpoints++
		}
		prev = sha256.Sum256(raw)
		if a := opts.Anchor; a != nil && a.Seq == r.Seq {
			if a.Hash != prev {
				return rep, fail(i, "record differs from the anchor kept outside the trail")
			}
			anchored = true
		}
		rep.Records++
		rep.Head = Anchor{Seq: r.Seq, Hash: prev}
	}
	if !anchored {
		return rep, fail(len(recs), "trail ends before the anchor at record %d: it was cut back", opts.Anchor.Seq)
	}
	if !opts.AllowUnsignedTail && lastSigned < len(recs)-1 {
		return rep, fail(lastSigned+1, "record not covered by a signed checkpoint")
	}
	return rep, nil
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
