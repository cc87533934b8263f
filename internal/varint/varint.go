// Package varint decodes the varints of encoding/binary, accepting only
// their minimal encoding.
//
// encoding/binary's Uvarint also accepts padded forms ("\x80\x00" for 0),
// so two byte strings decode to one value and a decoded record re-encodes
// differently from its input: a hash or signature over the input then
// disagrees with one over the value. Every decoder of the module uses this
// package instead.
package varint

import (
	"encoding/binary"
	"errors"
	"io"
)

// ErrNonMinimal is returned by ReadUvarint for a varint with padding bytes.
var ErrNonMinimal = errors.New("varint: non-minimal encoding")

// Uvarint is binary.Uvarint for minimal encodings only: n > 0 is the number
// of bytes read; n == 0 means b is too short; n < 0 means the value
// overflows 64 bits or is not minimally encoded (its last byte is zero),
// and -n bytes were read.
func Uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n > 1 && b[n-1] == 0 {
		return 0, -n
	}
	return v, n
}

// Varint is binary.Varint for minimal encodings only, with Uvarint's n.
func Varint(b []byte) (int64, int) {
	ux, n := Uvarint(b)
	if n <= 0 {
		return 0, n
	}
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x, n
}

// ReadUvarint is binary.ReadUvarint for minimal encodings only: a padded
// varint is ErrNonMinimal.
func ReadUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := range binary.MaxVarintLen64 {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return x, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return x, errOverflow
			}
			if i > 0 && b == 0 {
				return x, ErrNonMinimal
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return x, errOverflow
}

var errOverflow = errors.New("varint: varint overflows a 64-bit integer")
