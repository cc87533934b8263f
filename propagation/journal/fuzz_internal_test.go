package journal

import (
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
		s, err := newSegmentHeader(0, time.Unix(1, 0), e, make([]byte, saltSize))
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
		valid, end, err := scanRecords("x.seg", 0, b, len(s.hdr), 1<<16)
		if err != nil {
			if _, ok := err.(*CorruptError); !ok {
				t.Fatalf("scan: untyped error %v", err)
			}
			return
		}
		if valid < int64(len(s.hdr)) || valid > int64(len(b)) {
			t.Fatalf("valid prefix %d outside [%d, %d]", valid, len(s.hdr), len(b))
		}
		pos := len(s.hdr)
		for off := uint64(0); off < end; off++ {
			l, ok := recordOK(b, pos, off, 1<<16)
			if !ok {
				t.Fatalf("record %d at byte %d in the valid prefix fails its check", off, pos)
			}
			body := b[pos+recHeader : pos+recHeader+l]
			if s.aead != nil {
				var n [12]byte
				if body, err = s.aead.Open(nil, recordNonce(&n, off), body, nil); err != nil {
					continue
				}
			}
			var ev semevent.Event
			_ = codec.Decode(body, &ev)
			pos += recHeader + l
		}
		if int64(pos) != valid {
			t.Fatalf("records end at %d, scan said %d", pos, valid)
		}
	})
}
