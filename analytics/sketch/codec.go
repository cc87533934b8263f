package sketch

import (
	"encoding/binary"
	"math"

	"github.com/vexfs/semevent/internal/varint"
)

// decoder reads the varint-based encodings, remembering the first problem.
type decoder struct {
	name string
	b    []byte
	off  int
	err  *DecodeError
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = &DecodeError{Sketch: d.name, Offset: d.off, Msg: msg}
	}
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := varint.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad or truncated varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := varint.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad or truncated varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail("truncated float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)-d.off) < n {
		d.fail("truncated bytes")
		return nil
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

// header checks the magic byte and version.
func (d *decoder) header(magic byte) {
	if d.byte1() != magic {
		d.off--
		d.fail("bad magic")
		return
	}
	if v := d.byte1(); d.err == nil && v != version {
		d.off--
		d.fail("unknown version")
	}
}

func (d *decoder) done() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return d.err
	}
	return nil
}

const version = 1

func appendFloat(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

// Hash64 mixes x into a well-distributed 64-bit hash (splitmix64's
// finalizer), for feeding sequential ids such as inodes to an [HLL].
func Hash64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// HashString returns a 64-bit FNV-1a hash of s, mixed by [Hash64].
func HashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return Hash64(h)
}

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
func appendVarint(b []byte, v int64) []byte   { return binary.AppendVarint(b, v) }
