package journal

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Segment files are named by the offset of their first record.
const (
	segSuffix = ".seg"
	tmpSuffix = ".tmp"
)

func segmentName(base uint64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

func parseSegmentName(name string) (uint64, bool) {
	s, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// Segment header:
//
//	magic "SEVJ" | version u8 | flags u8 | meta size u16 | base u64 | created i64
//	| key id length u8 | key id | salt [32] and key check [16] if encrypted
//	| crc32c u32 of everything before
//
// Version 1 segments have no record metadata (the u16, then reserved, is
// zero); version 2 segments carry meta size (1 to [MaxMetaSize]) bytes of
// metadata in every record. A segment without metadata is still written as
// version 1, byte for byte as before, and a binary that predates metadata
// refuses a version-2 segment ("unknown version 2") instead of misreading it.
const (
	segMagic       = "SEVJ"
	segVersion     = 1
	segVersionMeta = 2
	segFlagEncrypt = 1
	segFixed       = 25 // through the key id length
	saltSize       = 32
	checkSize      = 16
	maxHeaderSize  = segFixed + 255 + saltSize + checkSize + 4
)

// Record framing: length u32 | crc32c u32 | offset u64 | meta | body. The
// length counts the meta and the body; meta is the segment's meta size
// bytes (none in a version-1 segment). The CRC covers the length, the
// offset, the meta and the body (the ciphertext when the segment is
// encrypted; the meta is then the AES-GCM additional data, so it is
// authenticated but not encrypted).
const recHeader = 16

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func recordCRC(hdr, body []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[0:4])
	c = crc32.Update(c, castagnoli, hdr[8:16])
	return crc32.Update(c, castagnoli, body)
}

// segment is one segment file. The fields after the blank line change while
// the segment is the active one; readers load them atomically.
type segment struct {
	name    string
	base    uint64
	hdr     []byte      // the encoded header
	aead    cipher.AEAD // nil for a plaintext segment
	keyID   string
	created time.Time
	meta    int // bytes of metadata per record (0 for a version-1 segment)

	size    atomic.Int64  // bytes readers may read (header included)
	end     atomic.Uint64 // offset after the last readable record
	sealed  atomic.Bool   // no more records will be added; size is final
	modTime atomic.Int64  // Unix nanos of the last write, for retention

	idxMu sync.Mutex   // guards idx
	idx   []indexEntry // every indexEvery-th record, in offset order
}

// indexEvery is the spacing, in records, of a segment's sparse index, which
// lets a Reader start mid-segment without scanning from its start.
const indexEvery = 1024

type indexEntry struct {
	off uint64
	pos int64
}

// noteIndex records that the record with offset off starts at byte pos, if
// off is on the index spacing and past the last entry.
func (s *segment) noteIndex(off uint64, pos int64) {
	if (off-s.base)%indexEvery != 0 {
		return
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if n := len(s.idx); n == 0 || s.idx[n-1].off < off {
		s.idx = append(s.idx, indexEntry{off, pos})
	}
}

// trimIndex drops entries for offsets from off on (records never written).
func (s *segment) trimIndex(off uint64) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	for len(s.idx) > 0 && s.idx[len(s.idx)-1].off >= off {
		s.idx = s.idx[:len(s.idx)-1]
	}
}

// seek returns the indexed record nearest before offset off: its offset
// and byte position, or the segment's first record.
func (s *segment) seek(off uint64) (uint64, int64) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	i, _ := slices.BinarySearchFunc(s.idx, off, func(e indexEntry, off uint64) int { return cmp.Compare(e.off, off+1) })
	if i == 0 {
		return s.base, int64(len(s.hdr))
	}
	e := s.idx[i-1]
	return e.off, e.pos
}

// newSegmentHeader builds the header of a new segment starting at base.
// Records carry meta bytes of metadata; meta 0 writes a version-1 header.
func newSegmentHeader(base uint64, created time.Time, enc *Encryption, salt []byte, meta int) (*segment, error) {
	s := &segment{name: segmentName(base), base: base, created: created, meta: meta}
	h := make([]byte, 0, maxHeaderSize)
	h = append(h, segMagic...)
	if meta == 0 {
		h = append(h, segVersion, 0, 0, 0)
	} else {
		h = append(h, segVersionMeta, 0)
		h = binary.LittleEndian.AppendUint16(h, uint16(meta))
	}
	h = binary.LittleEndian.AppendUint64(h, base)
	h = binary.LittleEndian.AppendUint64(h, uint64(created.UnixNano()))
	if enc == nil {
		h = append(h, 0)
	} else {
		h[5] = segFlagEncrypt
		s.keyID = enc.KeyID
		h = append(h, byte(len(enc.KeyID)))
		h = append(h, enc.KeyID...)
		h = append(h, salt...)
		aead, err := segmentAEAD(enc.Keys[enc.KeyID], salt)
		if err != nil {
			return nil, err
		}
		s.aead = aead
		h = aead.Seal(h, checkNonce[:], nil, h)
	}
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	s.hdr = h
	return s, nil
}

// checkNonce seals the header's key check; record nonces start with four
// zero bytes, so it never collides with one.
var checkNonce = [12]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// segmentAEAD derives the segment's own AES-256-GCM key from the master key
// and the segment's random salt, so record nonces (the record offset) are
// never reused under one key, even across journals sharing a master key.
func segmentAEAD(master, salt []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, master, salt, "semevent journal segment v1", 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func recordNonce(n *[12]byte, off uint64) []byte {
	binary.BigEndian.PutUint64(n[4:], off)
	return n[:]
}

// parseSegmentHeader parses the header at the start of b (which holds at
// least the whole header, or the whole file when shorter) of the segment
// named name, checking its key against enc.
func parseSegmentHeader(name string, base uint64, b []byte, enc *Encryption) (*segment, error) {
	bad := func(format string, args ...any) error {
		return &CorruptError{Segment: name, Pos: 0, Offset: base, Reason: "segment header: " + fmt.Sprintf(format, args...)}
	}
	if len(b) < segFixed+4 {
		return nil, bad("%d bytes, too short", len(b))
	}
	if string(b[:4]) != segMagic {
		return nil, bad("bad magic %q", b[:4])
	}
	meta := int(binary.LittleEndian.Uint16(b[6:]))
	switch {
	case b[4] != segVersion && b[4] != segVersionMeta:
		return nil, bad("unknown version %d", b[4])
	case b[4] == segVersion && meta != 0:
		return nil, bad("reserved field %d in a version-1 segment", meta)
	case b[4] == segVersionMeta && (meta == 0 || meta > MaxMetaSize):
		return nil, bad("meta size %d, want 1 to %d", meta, MaxMetaSize)
	}
	flags := b[5]
	if flags&^segFlagEncrypt != 0 {
		return nil, bad("unknown flags %#x", flags)
	}
	n := segFixed + int(b[segFixed-1])
	if flags&segFlagEncrypt != 0 {
		n += saltSize + checkSize
	}
	if len(b) < n+4 {
		return nil, bad("%d bytes, want %d", len(b), n+4)
	}
	if got, want := binary.LittleEndian.Uint32(b[n:]), crc32.Checksum(b[:n], castagnoli); got != want {
		return nil, bad("checksum %#08x, want %#08x", got, want)
	}
	if hb := binary.LittleEndian.Uint64(b[8:]); hb != base {
		return nil, bad("base offset %d does not match the file name", hb)
	}
	s := &segment{name: name, base: base, hdr: b[: n+4 : n+4], created: time.Unix(0, int64(binary.LittleEndian.Uint64(b[16:]))), meta: meta}
	s.keyID = string(b[segFixed : segFixed+int(b[segFixed-1])])
	if flags&segFlagEncrypt == 0 {
		if s.keyID != "" {
			return nil, bad("key id %q on a plaintext segment", s.keyID)
		}
		return s, nil
	}
	if enc == nil {
		return nil, &KeyError{Segment: name, KeyID: s.keyID, Err: ErrMissingKey}
	}
	key, ok := enc.Keys[s.keyID]
	if !ok {
		return nil, &KeyError{Segment: name, KeyID: s.keyID, Err: ErrMissingKey}
	}
	ks := segFixed + len(s.keyID)
	aead, err := segmentAEAD(key, b[ks:ks+saltSize])
	if err != nil {
		return nil, &KeyError{Segment: name, KeyID: s.keyID, Err: err}
	}
	cs := ks + saltSize
	if _, err := aead.Open(nil, checkNonce[:], b[cs:cs+checkSize], b[:cs]); err != nil {
		return nil, &KeyError{Segment: name, KeyID: s.keyID, Err: ErrWrongKey}
	}
	s.aead = aead
	return s, nil
}
