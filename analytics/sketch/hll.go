package sketch

import (
	"math"
	"math/bits"
)

// Precision limits of an [HLL].
const (
	MinPrecision     = 4
	MaxPrecision     = 18
	DefaultPrecision = 14
)

// HLL is a HyperLogLog distinct counter over 64-bit hashes. It estimates
// with Ertl's improved raw estimator, which needs no bias tables and is
// unbiased from tiny to huge cardinalities.
type HLL struct {
	p    uint8
	regs []uint8
}

// NewHLL returns an empty HLL with 2^p registers; p outside
// [MinPrecision, MaxPrecision] is clamped, 0 means [DefaultPrecision].
func NewHLL(p int) *HLL {
	if p == 0 {
		p = DefaultPrecision
	}
	p = min(max(p, MinPrecision), MaxPrecision)
	return &HLL{p: uint8(p), regs: make([]uint8, 1<<p)}
}

// Precision returns p.
func (h *HLL) Precision() int { return int(h.p) }

// Add counts the value whose 64-bit hash is x. Use [Hash64] or
// [HashString] to hash values that are not already uniformly distributed.
func (h *HLL) Add(x uint64) {
	q := 64 - uint(h.p)
	idx := x >> q
	rho := uint8(min(uint(bits.LeadingZeros64(x<<h.p)), q) + 1)
	if rho > h.regs[idx] {
		h.regs[idx] = rho
	}
}

// Merge folds o into h; both must have the same precision.
func (h *HLL) Merge(o *HLL) error {
	if o.p != h.p {
		return ErrIncompatible
	}
	for i, r := range o.regs {
		if r > h.regs[i] {
			h.regs[i] = r
		}
	}
	return nil
}

// Clone returns a copy of h.
func (h *HLL) Clone() *HLL {
	return &HLL{p: h.p, regs: append([]uint8(nil), h.regs...)}
}

// Estimate returns the estimated number of distinct values added.
func (h *HLL) Estimate() float64 {
	q := 64 - int(h.p)
	m := float64(len(h.regs))
	var c [66]float64
	for _, r := range h.regs {
		c[r]++
	}
	z := m * hllTau(1-c[q+1]/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + c[k])
	}
	z += m * hllSigma(c[0]/m)
	if math.IsInf(z, 1) {
		return 0
	}
	return (0.5 / math.Ln2) * m * m / z
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		zp := z
		z += x * y
		y += y
		if z == zp {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		zp := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == zp {
			return z / 3
		}
	}
}

// MarshalBinary encodes h: magic 'H', version, p, then the registers.
func (h *HLL) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, 3+len(h.regs)))
}

// AppendBinary appends the encoding of h to b.
func (h *HLL) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, 'H', version, h.p)
	return append(b, h.regs...), nil
}

// UnmarshalBinary replaces h with the decoded b.
func (h *HLL) UnmarshalBinary(b []byte) error {
	d := decoder{name: "HLL", b: b}
	d.header('H')
	p := d.byte1()
	if d.err == nil && (p < MinPrecision || p > MaxPrecision) {
		d.off--
		d.fail("precision out of range")
	}
	regs := d.bytes(uint64(1) << (p & 31))
	q := 64 - p
	for i, r := range regs {
		if r > q+1 {
			d.off = 3 + i
			d.fail("register out of range")
			break
		}
	}
	if err := d.done(); err != nil {
		return err
	}
	h.p, h.regs = p, append([]uint8(nil), regs...)
	return nil
}
