package journal

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// fuzzSegment returns a segment of three small records, encrypted with
// enc when non-nil, whose records carry meta bytes of metadata.
func fuzzSegment(tb testing.TB, enc *Encryption, meta int) []byte {
	s, err := newSegmentHeader(0, time.Unix(1, 0), enc, make([]byte, saltSize), meta)
	if err != nil {
		tb.Fatal(err)
	}
	b := append([]byte(nil), s.hdr...)
	for i := range 3 {
		ev := &semevent.Event{ID: semevent.MakeID(uint64(i), 1, 1), Path: "/p", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte{byte(i)}}
		m := bytes.Repeat([]byte{byte(i + 1)}, meta)
		body := codec.Append(nil, ev)
		if s.aead != nil {
			var n [12]byte
			body = s.aead.Seal(nil, recordNonce(&n, uint64(i)), body, m)
		}
		rec := append(m, body...)
		h := make([]byte, recHeader)
		binary.LittleEndian.PutUint32(h, uint32(len(rec)))
		binary.LittleEndian.PutUint64(h[8:], uint64(i))
		binary.LittleEndian.PutUint32(h[4:], recordCRC(h, rec))
		b = append(append(b, h...), rec...)
	}
	return b
}

// FuzzScan fuzzes the segment decoder in memory: header parsing (version 1
// and version 2 with record metadata), the recovery scan and record
// decoding. It never panics; whatever the scan accepts as the valid prefix
// decodes record by record, metadata split off and authenticated, or fails
// with a typed error.
func FuzzScan(f *testing.F) {
	enc := &Encryption{KeyID: "f", Keys: map[string][]byte{"f": make([]byte, 32)}}
	for _, meta := range []int{0, 3, MaxMetaSize} {
		for _, e := range []*Encryption{nil, enc} {
			b := fuzzSegment(f, e, meta)
			f.Add(b)
			f.Add(b[:len(b)-5])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSegmentHeader("x.seg", 0, b, enc)
		if err != nil {
			return
		}
		scan := func(window int, last bool) (int64, uint64, error) {
			return newScanner(bytes.NewReader(b), int64(len(b)), window, s.meta).records("x.seg", 0, int64(len(s.hdr)), last)
		}
		valid, end, err := scan(scanWindow, true)
		// A small window must find the same: windows only bound memory.
		small := recHeader + int(b[len(b)-1])%64
		if v2, e2, err2 := scan(small, true); v2 != valid || e2 != end || (err2 == nil) != (err == nil) {
			t.Fatalf("window %d: %d, %d, %v; window %d: %d, %d, %v", scanWindow, valid, end, err, small, v2, e2, err2)
		}
		if _, _, serr := scan(small, false); serr != nil {
			if _, ok := serr.(*CorruptError); !ok {
				t.Fatalf("sealed scan: untyped error %v", serr)
			}
		}
		if err != nil {
			if _, ok := err.(*CorruptError); !ok {
				t.Fatalf("scan: untyped error %v", err)
			}
			return
		}
		if valid < int64(len(s.hdr)) || valid > int64(len(b)) {
			t.Fatalf("valid prefix %d outside [%d, %d]", valid, len(s.hdr), len(b))
		}
		sc := newScanner(bytes.NewReader(b), int64(len(b)), scanWindow, s.meta)
		pos := int64(len(s.hdr))
		for off := uint64(0); off < end; off++ {
			n, ok, err := sc.recordOK(pos, off)
			if !ok || err != nil {
				t.Fatalf("record %d at byte %d in the valid prefix fails its check", off, pos)
			}
			if n <= int64(recHeader+s.meta) {
				t.Fatalf("record %d at byte %d: %d bytes, no room for an event after %d bytes of meta", off, pos, n, s.meta)
			}
			meta, body := b[pos+recHeader:pos+recHeader+int64(s.meta)], b[pos+recHeader+int64(s.meta):pos+n]
			pos += n
			if s.aead != nil {
				var nonce [12]byte
				if body, err = s.aead.Open(nil, recordNonce(&nonce, off), body, meta); err != nil {
					continue // the Reader reports it as corrupt
				}
			}
			var ev semevent.Event
			_ = codec.Decode(body, &ev)
		}
		if pos != valid {
			t.Fatalf("records end at %d, scan said %d", pos, valid)
		}
	})
}

// FuzzManifest fuzzes the manifest decoder: it never panics, rejects with
// a *CorruptError, and what it accepts re-encodes to the same bytes.
func FuzzManifest(f *testing.F) {
	f.Add(encodeManifest(&manifest{}))
	f.Add(encodeManifest(&manifest{first: 3, segs: []manifestEntry{{base: 3, end: 9, size: 400, sealed: true}, {base: 9}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		bad := func(reason string) error { return &CorruptError{Segment: manifestName, Reason: reason} }
		m, err := decodeManifest(b, bad)
		if err != nil {
			if _, ok := err.(*CorruptError); !ok {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if got := encodeManifest(m); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded %x, want %x", got, b)
		}
	})
}
