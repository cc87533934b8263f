package routing

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// strHash hashes s with seed for the decision cache: a wyhash-style mix of
// 64-bit words (two multiplications for a subject of up to 16 bytes, one
// more per further 16 bytes), without the calls maphash.String makes into
// the runtime. It never reads outside s. Not for anything that needs a
// stable value: seed is random per rule set, and a collision only costs a
// cache miss, because a hit also compares the key.
func strHash(s string, seed uint64) uint64 {
	const k0, k1 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	n := len(s)
	p := unsafe.Pointer(unsafe.StringData(s))
	var a, b uint64
	switch {
	case n > 16:
		for ; n > 16; n -= 16 {
			seed = mum(load64(p)^k1, load64(unsafe.Add(p, 8))^seed)
			p = unsafe.Add(p, 16)
		}
		a, b = load64(unsafe.Add(p, n-16)), load64(unsafe.Add(p, n-8))
	case n >= 8:
		a, b = load64(p), load64(unsafe.Add(p, n-8))
	case n >= 4:
		a, b = uint64(load32(p)), uint64(load32(unsafe.Add(p, n-4)))
	case n > 0:
		a = uint64(*(*byte)(p))<<16 | uint64(*(*byte)(unsafe.Add(p, n>>1)))<<8 | uint64(*(*byte)(unsafe.Add(p, n-1)))
	}
	return mum(k1^uint64(len(s)), mum(a^k1, b^seed^k0))
}

// strEqual reports whether a == b, comparing eight bytes at a time
// inline: for the short keys of the decision cache it costs less than the
// runtime's memequal call.
func strEqual(a, b string) bool {
	if len(a) != len(b) || len(a) < 8 {
		return a == b
	}
	p, q, last := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b)), len(a)-8
	for i := 0; i < last; i += 8 {
		if load64(unsafe.Add(p, i)) != load64(unsafe.Add(q, i)) {
			return false
		}
	}
	return load64(unsafe.Add(p, last)) == load64(unsafe.Add(q, last))
}

func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// load64 and load32 read the 8 or 4 bytes at p: one load where the
// architecture allows unaligned loads, byte loads elsewhere.
func load64(p unsafe.Pointer) uint64 { return binary.LittleEndian.Uint64((*[8]byte)(p)[:]) }
func load32(p unsafe.Pointer) uint32 { return binary.LittleEndian.Uint32((*[4]byte)(p)[:]) }
