package journal

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// FuzzScan fuzzes the segment decoder in memory: header parsing, the
// recovery scan and record decoding. It never panics; whatever the scan
// accepts as the valid prefix decodes record by record or fails with a
// typed error.
func FuzzScan(f *testing.F) {
	enc := &Encryption{KeyID: "f", Keys: map[string][]byte{"f": make([]byte, 32)}}
	for _, e := range []*Encryption{nil, enc} {
		s, err := newSegmentHeader(0, time.Unix(1, 0), e, make([]byte, saltSize), 0)
		if err != nil {
			f.Fatal(err)
		}
		b := append([]byte(nil), s.hdr...)
		for i := range 3 {
			ev := &semevent.Event{ID: semevent.MakeID(uint64(i), 1, 1), Path: "/p", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte{byte(i)}}
			body := codec.Append(nil, ev)
			if s.aead != nil {
				var n [12]byte
				body = s.aead.Seal(nil, recordNonce(&n, uint64(i)), body, nil)
			}
			h := make([]byte, recHeader)
			binary.LittleEndian.PutUint32(h, uint32(len(body)))
			binary.LittleEndian.PutUint64(h[8:], uint64(i))
			binary.LittleEndian.PutUint32(h[4:], recordCRC(h, body))
			b = append(append(b, h...), body...)
		}
		f.Add(b)
		f.Add(b[:len(b)-5])
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
			body := b[pos+recHeader : pos+n]
			if s.aead != nil {
				var n [12]byte
				if body, err = s.aead.Open(nil, recordNonce(&n, off), body, nil); err != nil {
					continue
				}
			}
			var ev semevent.Event
			_ = codec.Decode(body, &ev)
			pos += n
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
