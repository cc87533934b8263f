// Package sketch holds the mergeable summaries that package analytics uses
// for aggregates too large to keep exactly: [HLL] (HyperLogLog, approximate
// distinct count), [DDSketch] (quantiles with a relative-error guarantee)
// and [TopK] (Space-Saving heavy hitters).
//
// Each sketch merges with another of the same parameters, so partial
// results computed on shards or on other nodes combine into one, and each
// has a compact binary form ([HLL.MarshalBinary] and so on) for sending
// those partial results over the wire.
//
// # Error bounds
//
//   - HLL with precision p has m = 2^p registers and a relative standard
//     error of 1.04/√m (0.81% at the default p = 14); merging loses nothing.
//   - DDSketch with relative accuracy α returns, for quantile q over n
//     values, a value within α·|x| of x, the value of rank ⌊q·(n−1)⌋, as
//     long as it has not collapsed buckets (see [DDSketch.Collapsed]).
//   - TopK with capacity m over a stream of total weight N never
//     underestimates a count and overestimates it by at most the counter's
//     Err ≤ N/m; every key heavier than N/m is reported. Merging adds the
//     bounds: the merged error is at most (N₁+N₂)/m.
//
// # Usage
//
//	h := sketch.NewHLL(14)
//	h.Add(sketch.Hash64(inode))
//	n := h.Estimate()
//
//	q := sketch.NewDDSketch(0.01, 0)
//	q.Add(latencyMillis)
//	p99 := q.Quantile(0.99)
//
//	t := sketch.NewTopK(64)
//	t.Add("/data/a", 1)
//	top := t.Top(10)
//
// # Concurrency
//
// Sketches are not safe for concurrent use; guard one with a mutex or give
// each goroutine its own and merge them.
//
// # Errors
//
// UnmarshalBinary returns a *[DecodeError] (wrapping [ErrCorrupt]) naming
// the sketch and the byte offset of the problem; Merge returns
// [ErrIncompatible] for sketches with different parameters.
//
// # Testing
//
// Sketches are deterministic: the same values in the same order give the
// same state and encoding, so tests can compare encodings. This package's
// tests check every bound above against exact answers, and fuzz every
// decoder.
package sketch
