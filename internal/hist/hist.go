// Package hist is a log-linear latency histogram: 16 buckets per power of
// two, so a quantile is reported within 1/16 of its true value. Recording is
// a few instructions and one uncontended atomic add; snapshots may be taken
// concurrently with recording.
package hist

import (
	"math/bits"
	"sync/atomic"
)

const (
	subBits    = 4
	subBuckets = 1 << subBits
	// NumBuckets covers every uint64 value.
	NumBuckets = (64 - subBits + 1) * subBuckets
)

// Histogram counts non-negative int64 values. Record may be called
// concurrently with Snapshot; concurrent Record calls are safe too.
type Histogram struct {
	counts [NumBuckets]atomic.Uint64
}

// Index returns the bucket of v (negative values count as 0).
func Index(v int64) int {
	if v < subBuckets {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	u := uint64(v)
	e := bits.Len64(u) - 1 // e >= subBits
	m := (u >> (e - subBits)) & (subBuckets - 1)
	return (e-subBits+1)*subBuckets + int(m)
}

// Upper returns the largest value that falls in bucket i.
func Upper(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	e := i/subBuckets + subBits - 1
	m := uint64(i % subBuckets)
	u := (subBuckets+m+1)<<(e-subBits) - 1
	if u > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(u)
}

// Record counts v.
func (h *Histogram) Record(v int64) { h.counts[Index(v)].Add(1) }

// Snapshot is a point-in-time copy of a histogram's counts.
type Snapshot struct {
	Counts [NumBuckets]uint64
	Total  uint64
}

// Snapshot copies the counts.
func (h *Histogram) Snapshot() Snapshot {
	var s Snapshot
	h.AddTo(&s)
	return s
}

// AddTo adds h's counts into s, merging histograms.
func (h *Histogram) AddTo(s *Snapshot) {
	for i := range h.counts {
		c := h.counts[i].Load()
		s.Counts[i] += c
		s.Total += c
	}
}

// Quantile returns the upper bound of the bucket holding quantile q
// (0 < q <= 1), or 0 for an empty snapshot.
func (s *Snapshot) Quantile(q float64) int64 {
	if s.Total == 0 {
		return 0
	}
	rank := uint64(q*float64(s.Total) + 0.5)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			return Upper(i)
		}
	}
	return s.Max()
}

// Max returns the upper bound of the highest non-empty bucket.
func (s *Snapshot) Max() int64 {
	for i := len(s.Counts) - 1; i >= 0; i-- {
		if s.Counts[i] != 0 {
			return Upper(i)
		}
	}
	return 0
}
