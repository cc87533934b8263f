package coord

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
)

// CRDT is state that replicas update without coordination and reconcile by
// merging: Merge is commutative, associative and idempotent, so replicas
// that have seen the same updates, in any order and any number of times,
// hold equal states. Merge and Clone return new values and modify neither
// operand. Digest is equal for equal states; [Store] uses it to find the
// keys two replicas disagree on.
//
// The types in this package are CRDTs: [GCounter], [PNCounter],
// [LWWRegister], [ORSet] and [LWWMap]. None is safe for concurrent use by
// itself; a [Store] guards the values it holds.
type CRDT[T any] interface {
	Merge(other T) T
	Clone() T
	Digest() uint64
}

var (
	_ CRDT[*GCounter]              = (*GCounter)(nil)
	_ CRDT[*PNCounter]             = (*PNCounter)(nil)
	_ CRDT[*LWWRegister[string]]   = (*LWWRegister[string])(nil)
	_ CRDT[*ORSet[string]]         = (*ORSet[string])(nil)
	_ CRDT[*LWWMap[string, int64]] = (*LWWMap[string, int64])(nil)
)

// digest hashes the printed form of parts; fmt prints maps with sorted
// keys, so equal states print, and hash, alike.
func digest(parts ...any) uint64 {
	h := fnv.New64a()
	fmt.Fprint(h, parts...)
	return h.Sum64()
}

// GCounter is a grow-only counter: each node increments its own entry and
// the value is the sum. The zero value is an empty counter.
type GCounter struct {
	n map[uint64]uint64
}

// NewGCounter returns an empty counter.
func NewGCounter() *GCounter { return &GCounter{} }

// Inc adds by to node's entry.
func (g *GCounter) Inc(node, by uint64) {
	if by == 0 {
		return
	}
	if g.n == nil {
		g.n = make(map[uint64]uint64)
	}
	g.n[node] += by
}

// Value returns the sum over nodes.
func (g *GCounter) Value() uint64 {
	var s uint64
	for _, c := range g.n {
		s += c
	}
	return s
}

// Merge returns the entry-wise maximum of g and o.
func (g *GCounter) Merge(o *GCounter) *GCounter {
	m := g.Clone()
	for n, c := range o.n {
		if c > m.n[n] {
			if m.n == nil {
				m.n = make(map[uint64]uint64)
			}
			m.n[n] = c
		}
	}
	return m
}

// Clone returns a copy of g.
func (g *GCounter) Clone() *GCounter {
	if len(g.n) == 0 {
		return &GCounter{}
	}
	return &GCounter{n: maps.Clone(g.n)}
}

// Equal reports whether g and o hold the same entries.
func (g *GCounter) Equal(o *GCounter) bool { return maps.Equal(g.n, o.n) }

// Digest hashes g's entries.
func (g *GCounter) Digest() uint64 { return digest("g", g.n) }

func (g *GCounter) String() string { return fmt.Sprintf("GCounter%v", g.n) }

// PNCounter is a counter that goes up and down: two grow-only counters,
// increments and decrements.
type PNCounter struct {
	P, N GCounter
}

// NewPNCounter returns a zero counter.
func NewPNCounter() *PNCounter { return &PNCounter{} }

// Add adds delta (negative to decrement) to node's entries.
func (c *PNCounter) Add(node uint64, delta int64) {
	if delta >= 0 {
		c.P.Inc(node, uint64(delta))
	} else {
		c.N.Inc(node, uint64(-delta))
	}
}

// Value returns increments minus decrements.
func (c *PNCounter) Value() int64 { return int64(c.P.Value() - c.N.Value()) }

// Merge merges both halves.
func (c *PNCounter) Merge(o *PNCounter) *PNCounter {
	return &PNCounter{P: *c.P.Merge(&o.P), N: *c.N.Merge(&o.N)}
}

// Clone returns a copy of c.
func (c *PNCounter) Clone() *PNCounter {
	return &PNCounter{P: *c.P.Clone(), N: *c.N.Clone()}
}

// Equal reports whether c and o hold the same entries.
func (c *PNCounter) Equal(o *PNCounter) bool { return c.P.Equal(&o.P) && c.N.Equal(&o.N) }

// Digest hashes both halves.
func (c *PNCounter) Digest() uint64 { return digest("pn", c.P.n, c.N.n) }

// LWWRegister holds one value; the write with the greatest [Timestamp]
// wins. Timestamps from an [HLC] are unique per node, so two different
// writes never tie.
type LWWRegister[V any] struct {
	value V
	ts    Timestamp
}

// Set writes v at ts; it has no effect when a later write is already held.
func (r *LWWRegister[V]) Set(v V, ts Timestamp) {
	if ts.Compare(r.ts) > 0 {
		r.value, r.ts = v, ts
	}
}

// Get returns the value and the timestamp of its write (zero if never
// written).
func (r *LWWRegister[V]) Get() (V, Timestamp) { return r.value, r.ts }

// Merge returns the register holding the later write.
func (r *LWWRegister[V]) Merge(o *LWWRegister[V]) *LWWRegister[V] {
	if o.ts.Compare(r.ts) > 0 {
		return &LWWRegister[V]{value: o.value, ts: o.ts}
	}
	return &LWWRegister[V]{value: r.value, ts: r.ts}
}

// Clone returns a copy of r (the value is copied shallowly).
func (r *LWWRegister[V]) Clone() *LWWRegister[V] { return &LWWRegister[V]{value: r.value, ts: r.ts} }

// Digest hashes the write's timestamp and value.
func (r *LWWRegister[V]) Digest() uint64 { return digest("r", r.ts, r.value) }

// Tag identifies one Add of an [ORSet]: the adding node and its count of
// adds.
type Tag struct {
	Node, Seq uint64
}

// ORSet is an observed-remove set: Remove removes the adds it has seen, so
// an add concurrent with a remove survives (add wins). The zero value is
// an empty set.
type ORSet[T comparable] struct {
	adds    map[T]map[Tag]struct{} // live tags per element
	removed map[Tag]struct{}       // tombstones
	seq     map[uint64]uint64      // adds made per node
}

// NewORSet returns an empty set.
func NewORSet[T comparable]() *ORSet[T] { return &ORSet[T]{} }

func (s *ORSet[T]) init() {
	if s.adds == nil {
		s.adds = make(map[T]map[Tag]struct{})
		s.removed = make(map[Tag]struct{})
		s.seq = make(map[uint64]uint64)
	}
}

// Add adds e on behalf of node.
func (s *ORSet[T]) Add(node uint64, e T) {
	s.init()
	s.seq[node]++
	tags := s.adds[e]
	if tags == nil {
		tags = make(map[Tag]struct{})
		s.adds[e] = tags
	}
	tags[Tag{Node: node, Seq: s.seq[node]}] = struct{}{}
}

// Remove removes e as far as this replica has seen it added.
func (s *ORSet[T]) Remove(e T) {
	s.init()
	for t := range s.adds[e] {
		s.removed[t] = struct{}{}
	}
	delete(s.adds, e)
}

// Contains reports whether e is in the set.
func (s *ORSet[T]) Contains(e T) bool { return len(s.adds[e]) > 0 }

// Len returns the number of elements.
func (s *ORSet[T]) Len() int { return len(s.adds) }

// Elements returns the elements, in no particular order.
func (s *ORSet[T]) Elements() []T { return slices.Collect(maps.Keys(s.adds)) }

// Merge returns the union of both sides' adds minus the union of their
// removes.
func (s *ORSet[T]) Merge(o *ORSet[T]) *ORSet[T] {
	m := s.Clone()
	m.init()
	for t := range o.removed {
		m.removed[t] = struct{}{}
	}
	for n, c := range o.seq {
		m.seq[n] = max(m.seq[n], c)
	}
	for e, tags := range o.adds {
		for t := range tags {
			if m.adds[e] == nil {
				m.adds[e] = make(map[Tag]struct{})
			}
			m.adds[e][t] = struct{}{}
		}
	}
	for e, tags := range m.adds {
		for t := range tags {
			if _, dead := m.removed[t]; dead {
				delete(tags, t)
			}
		}
		if len(tags) == 0 {
			delete(m.adds, e)
		}
	}
	return m
}

// Clone returns a deep copy of s.
func (s *ORSet[T]) Clone() *ORSet[T] {
	c := &ORSet[T]{}
	if s.adds == nil {
		return c
	}
	c.init()
	for e, tags := range s.adds {
		c.adds[e] = maps.Clone(tags)
	}
	maps.Copy(c.removed, s.removed)
	maps.Copy(c.seq, s.seq)
	return c
}

// Equal reports whether s and o hold the same tags, tombstones and
// counts.
func (s *ORSet[T]) Equal(o *ORSet[T]) bool {
	if len(s.adds) != len(o.adds) || len(s.removed) != len(o.removed) || !maps.Equal(s.seq, o.seq) {
		return false
	}
	for e, tags := range s.adds {
		if !maps.Equal(tags, o.adds[e]) {
			return false
		}
	}
	return maps.Equal(s.removed, o.removed)
}

// Digest hashes the full state.
func (s *ORSet[T]) Digest() uint64 {
	type entry struct {
		e    string
		tags []Tag
	}
	var es []entry
	for e, tags := range s.adds {
		ts := slices.SortedFunc(maps.Keys(tags), cmpTag)
		es = append(es, entry{fmt.Sprint(e), ts})
	}
	slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.e, b.e) })
	rm := slices.SortedFunc(maps.Keys(s.removed), cmpTag)
	return digest("or", es, rm, s.seq)
}

func cmpTag(a, b Tag) int {
	if c := cmp.Compare(a.Node, b.Node); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// LWWMap is a map whose entries are last-writer-wins registers; a delete
// is a write too (a tombstone), so a later Set brings the key back and an
// earlier one does not. The zero value is an empty map.
type LWWMap[K cmp.Ordered, V any] struct {
	m map[K]lwwEntry[V]
}

type lwwEntry[V any] struct {
	Value   V
	TS      Timestamp
	Deleted bool
}

// NewLWWMap returns an empty map.
func NewLWWMap[K cmp.Ordered, V any]() *LWWMap[K, V] { return &LWWMap[K, V]{} }

func (m *LWWMap[K, V]) write(k K, e lwwEntry[V]) {
	if old, ok := m.m[k]; ok && e.TS.Compare(old.TS) <= 0 {
		return
	}
	if m.m == nil {
		m.m = make(map[K]lwwEntry[V])
	}
	m.m[k] = e
}

// Set writes k = v at ts.
func (m *LWWMap[K, V]) Set(k K, v V, ts Timestamp) { m.write(k, lwwEntry[V]{Value: v, TS: ts}) }

// Delete deletes k at ts.
func (m *LWWMap[K, V]) Delete(k K, ts Timestamp) { m.write(k, lwwEntry[V]{TS: ts, Deleted: true}) }

// Get returns k's value and whether it is present.
func (m *LWWMap[K, V]) Get(k K) (V, bool) {
	e, ok := m.m[k]
	if !ok || e.Deleted {
		var zero V
		return zero, false
	}
	return e.Value, true
}

// Keys returns the present keys, sorted.
func (m *LWWMap[K, V]) Keys() []K {
	var ks []K
	for k, e := range m.m {
		if !e.Deleted {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

// Merge keeps, per key, the later write.
func (m *LWWMap[K, V]) Merge(o *LWWMap[K, V]) *LWWMap[K, V] {
	c := m.Clone()
	for k, e := range o.m {
		c.write(k, e)
	}
	return c
}

// Clone returns a copy of m (values are copied shallowly).
func (m *LWWMap[K, V]) Clone() *LWWMap[K, V] {
	if len(m.m) == 0 {
		return &LWWMap[K, V]{}
	}
	return &LWWMap[K, V]{m: maps.Clone(m.m)}
}

// Equal reports whether m and o hold the same writes; values are compared
// by their printed form.
func (m *LWWMap[K, V]) Equal(o *LWWMap[K, V]) bool {
	return m.Digest() == o.Digest() && len(m.m) == len(o.m)
}

// Digest hashes every write, tombstones included.
func (m *LWWMap[K, V]) Digest() uint64 { return digest("lww", m.m) }
