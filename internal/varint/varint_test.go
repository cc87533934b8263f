package varint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestMinimalOnly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int // Uvarint's n
		want uint64
	}{
		{"\x00", 1, 0},
		{"\x01", 1, 1},
		{"\x7f", 1, 127},
		{"\x80\x01", 2, 128},
		{"\x80\x00", -2, 0},     // 0 padded
		{"\x81\x00", -2, 0},     // 1 padded
		{"\xff\x80\x00", -3, 0}, // 127 padded twice
		{"\x80", 0, 0},          // truncated
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10, 1<<64 - 1},
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", -10, 0}, // overflow
	} {
		v, n := Uvarint([]byte(tc.in))
		if n != tc.n || (n > 0 && v != tc.want) {
			t.Errorf("Uvarint(%q) = %d, %d; want %d, %d", tc.in, v, n, tc.want, tc.n)
		}
		rv, err := ReadUvarint(bytes.NewReader([]byte(tc.in)))
		if (err == nil) != (tc.n > 0) || (err == nil && rv != tc.want) {
			t.Errorf("ReadUvarint(%q) = %d, %v; want %d (ok=%v)", tc.in, rv, err, tc.want, tc.n > 0)
		}
		if tc.n < 0 && tc.in[len(tc.in)-1] == 0 && !errors.Is(err, ErrNonMinimal) {
			t.Errorf("ReadUvarint(%q) = %v, want ErrNonMinimal", tc.in, err)
		}
	}
	if v, n := Varint([]byte("\x81\x00")); n >= 0 {
		t.Errorf("Varint of a padded -1 = %d, %d; want n < 0", v, n)
	}
}

// FuzzUvarint: whatever Uvarint accepts re-encodes to the same bytes, and
// ReadUvarint agrees with it.
func FuzzUvarint(f *testing.F) {
	f.Add([]byte("\x80\x00"))
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n := Uvarint(b)
		rv, err := ReadUvarint(bytes.NewReader(b))
		if n > 0 {
			if enc := binary.AppendUvarint(nil, v); !bytes.Equal(enc, b[:n]) {
				t.Fatalf("Uvarint(%x) = %d from %d bytes, which encodes as %x", b, v, n, enc)
			}
			if err != nil || rv != v {
				t.Fatalf("ReadUvarint(%x) = %d, %v; Uvarint says %d", b, rv, err, v)
			}
			iv, in := Varint(b)
			if in != n || binary.AppendVarint(nil, iv)[0] != b[0] {
				t.Fatalf("Varint(%x) = %d, %d", b, iv, in)
			}
		} else if err == nil && n < 0 {
			t.Fatalf("ReadUvarint(%x) accepted what Uvarint refuses", b)
		}
	})
}
