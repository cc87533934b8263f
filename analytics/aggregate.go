package analytics

import (
	"encoding/binary"
	"math"

	"github.com/RoaringBitmap/roaring/v2/roaring64"

	"github.com/vexfs/semevent/analytics/sketch"
	"github.com/vexfs/semevent/internal/varint"
)

// Agg selects the aggregates that cost more than a few instructions per
// event. Count, sum, min, max and mean are always computed.
type Agg uint8

const (
	// Distinct counts distinct values exactly in a roaring bitmap.
	Distinct Agg = 1 << iota
	// ApproxDistinct estimates distinct values with a HyperLogLog.
	ApproxDistinct
	// Quantiles keeps a DDSketch of the values.
	Quantiles
	// TopK keeps the heaviest Options.TopOf labels (Space-Saving).
	TopK
)

// Aggregate is the summary of the events of one key in one window. Every
// field merges, so partial aggregates from shards or nodes combine with
// [Aggregate.Merge]. Sketch fields are nil unless selected by Options.Aggs.
type Aggregate struct {
	Count    uint64
	Sum      float64 // of the values (Options.Value, by default Event.Size)
	Min, Max float64 // of the values; +Inf and -Inf when Count is 0

	Distinct       *roaring64.Bitmap // exact distinct Options.DistinctOf values
	ApproxDistinct *sketch.HLL       // estimated distinct Options.DistinctOf values
	Quantiles      *sketch.DDSketch  // the values
	TopK           *sketch.TopK      // the Options.TopOf labels
}

// NewAggregate returns an empty aggregate with the sketches that aggs
// selects, made with the parameters of opts (nil means defaults).
func NewAggregate(aggs Agg, opts *Options) *Aggregate {
	a := &Aggregate{Min: math.Inf(1), Max: math.Inf(-1)}
	var o Options
	if opts != nil {
		o = *opts
	}
	if aggs&Distinct != 0 {
		a.Distinct = roaring64.New()
	}
	if aggs&ApproxDistinct != 0 {
		a.ApproxDistinct = sketch.NewHLL(o.HLLPrecision)
	}
	if aggs&Quantiles != 0 {
		a.Quantiles = sketch.NewDDSketch(o.QuantileAccuracy, 0)
	}
	if aggs&TopK != 0 {
		a.TopK = sketch.NewTopK(o.TopKCapacity)
	}
	return a
}

// Mean returns Sum/Count, or NaN when Count is 0.
func (a *Aggregate) Mean() float64 {
	if a.Count == 0 {
		return math.NaN()
	}
	return a.Sum / float64(a.Count)
}

// DistinctCount returns the exact distinct count when kept, else the
// HyperLogLog estimate, else 0.
func (a *Aggregate) DistinctCount() float64 {
	switch {
	case a.Distinct != nil:
		return float64(a.Distinct.GetCardinality())
	case a.ApproxDistinct != nil:
		return a.ApproxDistinct.Estimate()
	}
	return 0
}

// Quantile returns the estimated quantile q of the values, or NaN when no
// quantile sketch is kept.
func (a *Aggregate) Quantile(q float64) float64 {
	if a.Quantiles == nil {
		return math.NaN()
	}
	return a.Quantiles.Quantile(q)
}

// Merge folds b into a. Sketches present in b but not in a are copied;
// sketches with different parameters return sketch.ErrIncompatible.
func (a *Aggregate) Merge(b *Aggregate) error {
	a.Count += b.Count
	a.Sum += b.Sum
	a.Min = math.Min(a.Min, b.Min)
	a.Max = math.Max(a.Max, b.Max)
	if b.Distinct != nil {
		if a.Distinct == nil {
			a.Distinct = roaring64.New()
		}
		a.Distinct.Or(b.Distinct)
	}
	if b.ApproxDistinct != nil {
		if a.ApproxDistinct == nil {
			a.ApproxDistinct = b.ApproxDistinct.Clone()
		} else if err := a.ApproxDistinct.Merge(b.ApproxDistinct); err != nil {
			return err
		}
	}
	if b.Quantiles != nil {
		if a.Quantiles == nil {
			a.Quantiles = b.Quantiles.Clone()
		} else if err := a.Quantiles.Merge(b.Quantiles); err != nil {
			return err
		}
	}
	if b.TopK != nil {
		if a.TopK == nil {
			a.TopK = b.TopK.Clone()
		} else if err := a.TopK.Merge(b.TopK); err != nil {
			return err
		}
	}
	return nil
}

// Clone returns a deep copy of a.
func (a *Aggregate) Clone() *Aggregate {
	c := &Aggregate{Count: a.Count, Sum: a.Sum, Min: a.Min, Max: a.Max}
	if a.Distinct != nil {
		c.Distinct = a.Distinct.Clone()
	}
	if a.ApproxDistinct != nil {
		c.ApproxDistinct = a.ApproxDistinct.Clone()
	}
	if a.Quantiles != nil {
		c.Quantiles = a.Quantiles.Clone()
	}
	if a.TopK != nil {
		c.TopK = a.TopK.Clone()
	}
	return c
}

// Encoding: magic 'A', version 1, count (uvarint), sum, min, max (8 bytes
// each), then for each sketch present a tag byte and a length-prefixed
// encoding: 'r' distinct values (count, then increasing deltas), 'h' HLL, 'q' DDSketch, 't' TopK, in that order.
const aggVersion = 1

// MarshalBinary encodes a, sketches included, for merging elsewhere.
func (a *Aggregate) MarshalBinary() ([]byte, error) {
	b := []byte{'A', aggVersion}
	b = binary.AppendUvarint(b, a.Count)
	for _, f := range []float64{a.Sum, a.Min, a.Max} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	add := func(tag byte, enc []byte, err error) error {
		if err != nil {
			return err
		}
		b = append(b, tag)
		b = binary.AppendUvarint(b, uint64(len(enc)))
		b = append(b, enc...)
		return nil
	}
	if a.Distinct != nil {
		// The values as a count and increasing deltas: roaring's own
		// format trusts its input on decode, this one need not.
		enc := binary.AppendUvarint(nil, a.Distinct.GetCardinality())
		prev := uint64(0)
		it := a.Distinct.Iterator()
		for it.HasNext() {
			v := it.Next()
			enc = binary.AppendUvarint(enc, v-prev)
			prev = v
		}
		if err := add('r', enc, nil); err != nil {
			return nil, err
		}
	}
	if a.ApproxDistinct != nil {
		enc, err := a.ApproxDistinct.MarshalBinary()
		if err := add('h', enc, err); err != nil {
			return nil, err
		}
	}
	if a.Quantiles != nil {
		enc, err := a.Quantiles.MarshalBinary()
		if err := add('q', enc, err); err != nil {
			return nil, err
		}
	}
	if a.TopK != nil {
		enc, err := a.TopK.MarshalBinary()
		if err := add('t', enc, err); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// UnmarshalBinary replaces a with the decoded b. Bad input returns a
// *[DecodeError] wrapping [ErrCorrupt].
func (a *Aggregate) UnmarshalBinary(b []byte) (err error) {
	off := 0
	fail := func(msg string, cause error) error {
		return &DecodeError{What: "aggregate", Offset: off, Msg: msg, Err: cause}
	}
	if len(b) < 2 || b[0] != 'A' {
		return fail("bad magic", nil)
	}
	if b[1] != aggVersion {
		off = 1
		return fail("unknown version", nil)
	}
	off = 2
	n := &Aggregate{}
	c, k := varint.Uvarint(b[off:])
	if k <= 0 {
		return fail("bad count", nil)
	}
	n.Count, off = c, off+k
	if len(b)-off < 24 {
		return fail("truncated", nil)
	}
	fs := [3]float64{}
	for i := range fs {
		fs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[off:]))
		off += 8
	}
	n.Sum, n.Min, n.Max = fs[0], fs[1], fs[2]
	if n.Count > 0 && !(n.Min <= n.Max) {
		return fail("min above max", nil)
	}
	last := byte(0)
	order := map[byte]byte{'r': 1, 'h': 2, 'q': 3, 't': 4}
	for off < len(b) {
		tag := b[off]
		if order[tag] == 0 || order[tag] <= last {
			return fail("unknown or repeated sketch tag", nil)
		}
		last = order[tag]
		off++
		l, k := varint.Uvarint(b[off:])
		if k <= 0 || uint64(len(b)-off-k) < l {
			return fail("bad sketch length", nil)
		}
		off += k
		enc := b[off : off+int(l)]
		var err error
		switch tag {
		case 'r':
			n.Distinct, err = decodeDistinct(enc)
		case 'h':
			n.ApproxDistinct = new(sketch.HLL)
			err = n.ApproxDistinct.UnmarshalBinary(enc)
		case 'q':
			n.Quantiles = new(sketch.DDSketch)
			err = n.Quantiles.UnmarshalBinary(enc)
		case 't':
			n.TopK = new(sketch.TopK)
			err = n.TopK.UnmarshalBinary(enc)
		}
		if err != nil {
			return fail("sketch", err)
		}
		off += int(l)
	}
	*a = *n
	return nil
}

// decodeDistinct decodes a count and increasing deltas.
func decodeDistinct(b []byte) (*roaring64.Bitmap, error) {
	bad := func(msg string) error { return &DecodeError{What: "distinct set", Msg: msg} }
	n, k := varint.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, bad("bad count")
	}
	b = b[k:]
	vals := make([]uint64, 0, n)
	var v uint64
	for i := range n {
		d, k := varint.Uvarint(b)
		if k <= 0 || (i > 0 && d == 0) || v+d < v {
			return nil, bad("bad delta")
		}
		b = b[k:]
		v += d
		vals = append(vals, v)
	}
	if len(b) != 0 {
		return nil, bad("trailing bytes")
	}
	bm := roaring64.New()
	bm.AddMany(vals)
	return bm, nil
}
