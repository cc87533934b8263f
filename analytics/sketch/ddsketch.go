package sketch

import (
	"math"
)

// Defaults of a [DDSketch].
const (
	DefaultAccuracy = 0.01
	DefaultMaxBins  = 2048
)

// DDSketch is a quantile sketch with relative accuracy α (Masson, Rim and
// Lee, VLDB 2019): values fall in logarithmic buckets of ratio
// γ = (1+α)/(1−α), so every quantile it returns is within α·|x| of the
// true one. It keeps at most MaxBins buckets per sign, collapsing the
// smallest magnitudes first when it must.
type DDSketch struct {
	alpha     float64
	gamma     float64
	logGamma  float64
	invLog    float64 // 1/logGamma
	maxBins   int
	pos, neg  store
	zero      uint64
	count     uint64
	min, max  float64
	collapsed bool
}

// NewDDSketch returns an empty sketch with relative accuracy alpha in
// (0, 1) (0 means [DefaultAccuracy]) keeping at most maxBins buckets per
// sign (0 means [DefaultMaxBins]).
func NewDDSketch(alpha float64, maxBins int) *DDSketch {
	if !(alpha > 0 && alpha < 1) {
		alpha = DefaultAccuracy
	}
	if maxBins <= 0 {
		maxBins = DefaultMaxBins
	}
	g := (1 + alpha) / (1 - alpha)
	return &DDSketch{alpha: alpha, gamma: g, logGamma: math.Log(g), invLog: 1 / math.Log(g), maxBins: maxBins,
		min: math.Inf(1), max: math.Inf(-1)}
}

// Accuracy returns α.
func (s *DDSketch) Accuracy() float64 { return s.alpha }

// Count returns the number of values added.
func (s *DDSketch) Count() uint64 { return s.count }

// Collapsed reports whether buckets were ever collapsed, which voids the
// accuracy guarantee for the lowest quantiles of magnitude.
func (s *DDSketch) Collapsed() bool { return s.collapsed }

// minIndexable is the smallest magnitude with its own bucket; smaller
// magnitudes count as zero.
const minIndexable = 1e-9

func (s *DDSketch) index(v float64) int {
	return int(math.Ceil(math.Log(v) * s.invLog))
}

func (s *DDSketch) value(i int) float64 {
	return 2 * math.Exp(float64(i)*s.logGamma) / (s.gamma + 1)
}

// Add counts v once. NaN is ignored.
func (s *DDSketch) Add(v float64) { s.AddN(v, 1) }

// AddN counts v n times.
func (s *DDSketch) AddN(v float64, n uint64) {
	if v != v || n == 0 {
		return
	}
	switch {
	case v > minIndexable:
		s.collapsed = s.pos.add(s.index(v), n, s.maxBins) || s.collapsed
	case v < -minIndexable:
		s.collapsed = s.neg.add(s.index(-v), n, s.maxBins) || s.collapsed
	default:
		s.zero += n
	}
	s.count += n
	if v < s.min {
		s.min = v
	}
	if v > s.max {
		s.max = v
	}
}

// Merge folds o into s; both must have the same accuracy.
func (s *DDSketch) Merge(o *DDSketch) error {
	if o.alpha != s.alpha {
		return ErrIncompatible
	}
	if o.count == 0 {
		return nil
	}
	for i, c := range o.pos.bins {
		if c != 0 {
			s.collapsed = s.pos.add(o.pos.offset+i, c, s.maxBins) || s.collapsed
		}
	}
	for i, c := range o.neg.bins {
		if c != 0 {
			s.collapsed = s.neg.add(o.neg.offset+i, c, s.maxBins) || s.collapsed
		}
	}
	s.zero += o.zero
	s.count += o.count
	s.min = math.Min(s.min, o.min)
	s.max = math.Max(s.max, o.max)
	s.collapsed = s.collapsed || o.collapsed
	return nil
}

// Clone returns a copy of s.
func (s *DDSketch) Clone() *DDSketch {
	c := *s
	c.pos.bins = append([]uint64(nil), s.pos.bins...)
	c.neg.bins = append([]uint64(nil), s.neg.bins...)
	return &c
}

// Quantile returns the estimated value of quantile q in [0, 1] (the value
// of rank ⌊q·(n−1)⌋), or NaN when the sketch is empty.
func (s *DDSketch) Quantile(q float64) float64 {
	if s.count == 0 || q != q {
		return math.NaN()
	}
	q = min(max(q, 0), 1)
	rank := uint64(q * float64(s.count-1))
	var v float64
	var cum uint64
	found := false
	for i := len(s.neg.bins) - 1; i >= 0 && !found; i-- {
		cum += s.neg.bins[i]
		if cum > rank {
			v, found = -s.value(s.neg.offset+i), true
		}
	}
	if !found {
		cum += s.zero
		if cum > rank {
			v, found = 0, true
		}
	}
	for i := 0; i < len(s.pos.bins) && !found; i++ {
		cum += s.pos.bins[i]
		if cum > rank {
			v, found = s.value(s.pos.offset+i), true
		}
	}
	if !found {
		v = s.max
	}
	return min(max(v, s.min), s.max)
}

// store is a dense array of bucket counts starting at bucket index offset.
type store struct {
	offset int
	bins   []uint64
}

// add counts n at bucket i, growing the array and collapsing the lowest
// buckets beyond maxBins; it reports whether it collapsed.
func (st *store) add(i int, n uint64, maxBins int) bool {
	if len(st.bins) == 0 {
		st.offset = i
		st.bins = append(st.bins[:0], n)
		return false
	}
	collapsed := false
	switch {
	case i < st.offset:
		lo := i
		if hi := st.offset + len(st.bins) - 1; hi-lo+1 > maxBins {
			lo, collapsed = hi-maxBins+1, true // i lands in the lowest bucket kept
		}
		if grow := st.offset - lo; grow > 0 {
			nb := make([]uint64, grow+len(st.bins), max(2*(grow+len(st.bins)), 16))
			copy(nb[grow:], st.bins)
			st.bins, st.offset = nb, lo
		}
		i = max(i, lo)
	case i >= st.offset+len(st.bins):
		if i-st.offset+1 > maxBins {
			collapsed = st.collapseBelow(i - maxBins + 1)
		}
		for i >= st.offset+len(st.bins) {
			st.bins = append(st.bins, 0)
		}
	}
	st.bins[i-st.offset] += n
	return collapsed
}

// collapseBelow folds every bucket below lo into bucket lo.
func (st *store) collapseBelow(lo int) bool {
	if lo <= st.offset {
		return false
	}
	k := lo - st.offset
	if k >= len(st.bins) {
		var sum uint64
		for _, c := range st.bins {
			sum += c
		}
		st.bins = append(st.bins[:0], sum)
		st.offset = lo
		return true
	}
	var sum uint64
	for _, c := range st.bins[:k] {
		sum += c
	}
	st.bins = append(st.bins[:0], st.bins[k:]...)
	st.bins[0] += sum
	st.offset = lo
	return true
}

// MarshalBinary encodes s.
func (s *DDSketch) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

// AppendBinary appends the encoding of s to b: magic 'D', version, α,
// maxBins, zero count, min, max, collapsed, then each store as offset,
// length and counts.
func (s *DDSketch) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, 'D', version)
	b = appendFloat(b, s.alpha)
	b = appendUvarint(b, uint64(s.maxBins))
	b = appendUvarint(b, s.zero)
	b = appendFloat(b, s.min)
	b = appendFloat(b, s.max)
	if s.collapsed {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	for _, st := range []*store{&s.pos, &s.neg} {
		b = appendVarint(b, int64(st.offset))
		b = appendUvarint(b, uint64(len(st.bins)))
		for _, c := range st.bins {
			b = appendUvarint(b, c)
		}
	}
	return b, nil
}

// maxIndex bounds decoded bucket indexes: |log_γ(MaxFloat64)| for the
// smallest γ we accept is far below it.
const maxIndex = 1 << 24

// UnmarshalBinary replaces s with the decoded b.
func (s *DDSketch) UnmarshalBinary(b []byte) error {
	d := decoder{name: "DDSketch", b: b}
	d.header('D')
	alpha := d.float()
	if d.err == nil && !(alpha >= 1e-6 && alpha < 1) {
		d.fail("accuracy out of range")
	}
	maxBins := d.uvarint()
	if d.err == nil && (maxBins == 0 || maxBins > 1<<20) {
		d.fail("maxBins out of range")
	}
	n := NewDDSketch(alpha, int(maxBins))
	n.zero = d.uvarint()
	n.count = n.zero
	n.min, n.max = d.float(), d.float()
	switch d.byte1() {
	case 0:
	case 1:
		n.collapsed = true
	default:
		d.fail("bad collapsed flag")
	}
	for _, st := range []*store{&n.pos, &n.neg} {
		off := d.varint()
		l := d.uvarint()
		if d.err == nil && (l > maxBins || off < -maxIndex || off > maxIndex) {
			d.fail("store out of range")
		}
		if d.err != nil {
			break
		}
		st.offset = int(off)
		st.bins = make([]uint64, 0, l)
		for range l {
			c := d.uvarint()
			if n.count+c < n.count {
				d.fail("count overflows")
			}
			n.count += c
			st.bins = append(st.bins, c)
		}
	}
	if d.err == nil && n.count > 0 && !(n.min <= n.max) {
		d.fail("min above max")
	}
	if d.err == nil && n.count == 0 && !(math.IsInf(n.min, 1) && math.IsInf(n.max, -1)) {
		d.fail("empty sketch with bounds")
	}
	if err := d.done(); err != nil {
		return err
	}
	*s = *n
	return nil
}
