package coord

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
)

// The Merkle tree over a [Store]'s keys: 16 children per node and three
// levels, root (level 0), 16 inner nodes (level 1) and 256 leaves (level
// 2). A key belongs to the leaf picked by the first byte of its hash.
const (
	merkleFanout = 16
	MerkleLeaves = merkleFanout * merkleFanout
	MerkleLevels = 3
)

// Store is a replica's keyed CRDT state: a map from key to a value of one
// CRDT type, with a Merkle tree over (key, value digest) that anti-entropy
// ([Store.Sync]) walks to find, and exchange, only the keys two replicas
// disagree on. Safe for concurrent use. A Store is also the [Peer] of
// another Store in the same process; a network transport wraps one on the
// far side.
type Store[V CRDT[V]] struct {
	mu     sync.Mutex // guards vals, leaves, dirty, tree
	vals   map[string]V
	leaves [MerkleLeaves]map[string]uint64 // per leaf: key → value digest
	dirty  bool
	tree   [MerkleLevels][]uint64
}

// NewStore returns an empty store.
func NewStore[V CRDT[V]]() *Store[V] {
	return &Store[V]{vals: make(map[string]V), dirty: true}
}

func keyHash(k string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(k))
	return h.Sum64()
}

func leafOf(k string) int { return int(keyHash(k) >> 56) }

func (s *Store[V]) setLocked(k string, v V) {
	s.vals[k] = v
	l := leafOf(k)
	if s.leaves[l] == nil {
		s.leaves[l] = make(map[string]uint64)
	}
	s.leaves[l][k] = v.Digest()
	s.dirty = true
}

// Update replaces key's value with fn(old, present). fn runs with the store
// locked and may modify old in place and return it: the store's values are
// never shared with other stores.
func (s *Store[V]) Update(key string, fn func(old V, ok bool) V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.vals[key]
	s.setLocked(key, fn(old, ok))
}

// Get returns a copy of key's value.
func (s *Store[V]) Get(key string) (V, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.vals[key]
	if !ok {
		return v, false
	}
	return v.Clone(), true
}

// Merge merges v into key's value (v itself is not kept).
func (s *Store[V]) Merge(key string, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mergeLocked(key, v)
}

func (s *Store[V]) mergeLocked(key string, v V) {
	if old, ok := s.vals[key]; ok {
		s.setLocked(key, old.Merge(v))
	} else {
		s.setLocked(key, v.Clone())
	}
}

// Keys returns the keys, sorted.
func (s *Store[V]) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := make([]string, 0, len(s.vals))
	for k := range s.vals {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Len returns the number of keys.
func (s *Store[V]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.vals)
}

// Root returns the Merkle root: equal for stores with equal states.
func (s *Store[V]) Root() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.treeLocked()[0][0]
}

func (s *Store[V]) treeLocked() [MerkleLevels][]uint64 {
	if !s.dirty {
		return s.tree
	}
	leaves := make([]uint64, MerkleLeaves)
	for i, m := range s.leaves {
		var sum uint64
		for k, d := range m {
			sum += mix(keyHash(k) ^ d) // order-free combination
		}
		leaves[i] = sum
	}
	s.tree[MerkleLevels-1] = leaves
	for lvl := MerkleLevels - 2; lvl >= 0; lvl-- {
		below := s.tree[lvl+1]
		up := make([]uint64, len(below)/merkleFanout)
		var buf [8 * merkleFanout]byte
		for i := range up {
			for j := range merkleFanout {
				binary.LittleEndian.PutUint64(buf[8*j:], below[i*merkleFanout+j])
			}
			h := fnv.New64a()
			h.Write(buf[:])
			up[i] = h.Sum64()
		}
		s.tree[lvl] = up
	}
	s.dirty = false
	return s.tree
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Peer is the far side of an anti-entropy exchange: another replica's
// [Store], reached in process or through a transport. Every method may
// fail (an unreachable peer); [Store.Sync] then stops and reports it.
type Peer[V CRDT[V]] interface {
	// Hashes returns the Merkle hashes of the given nodes of a level.
	Hashes(ctx context.Context, level int, nodes []int) ([]uint64, error)
	// LeafDigests returns key → value digest for every key in the leaves.
	LeafDigests(ctx context.Context, leaves []int) (map[string]uint64, error)
	// Fetch returns copies of the values of the keys it has.
	Fetch(ctx context.Context, keys []string) (map[string]V, error)
	// Push merges the values into the peer's state.
	Push(ctx context.Context, vals map[string]V) error
}

var _ Peer[*GCounter] = (*Store[*GCounter])(nil)

// Hashes implements [Peer].
func (s *Store[V]) Hashes(ctx context.Context, level int, nodes []int) ([]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.treeLocked()
	out := make([]uint64, len(nodes))
	for i, n := range nodes {
		if level < 0 || level >= MerkleLevels || n < 0 || n >= len(t[level]) {
			return nil, fmt.Errorf("coord: merkle node %d of level %d out of range", n, level)
		}
		out[i] = t[level][n]
	}
	return out, nil
}

// LeafDigests implements [Peer].
func (s *Store[V]) LeafDigests(ctx context.Context, leaves []int) (map[string]uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]uint64)
	for _, l := range leaves {
		if l < 0 || l >= MerkleLeaves {
			return nil, fmt.Errorf("coord: merkle leaf %d out of range", l)
		}
		for k, d := range s.leaves[l] {
			out[k] = d
		}
	}
	return out, nil
}

// Fetch implements [Peer].
func (s *Store[V]) Fetch(ctx context.Context, keys []string) (map[string]V, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]V, len(keys))
	for _, k := range keys {
		if v, ok := s.vals[k]; ok {
			out[k] = v.Clone()
		}
	}
	return out, nil
}

// Push implements [Peer].
func (s *Store[V]) Push(ctx context.Context, vals map[string]V) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range vals {
		s.mergeLocked(k, v)
	}
	return nil
}

// SyncStats says what one anti-entropy exchange moved.
type SyncStats struct {
	HashesCompared int // Merkle hashes compared, root included
	LeavesDiffered int
	KeysDiffered   int // keys whose digests differed or that one side lacked
	KeysFetched    int // values received from the peer
	KeysPushed     int // values sent to the peer
}

// Sync reconciles s and p: it walks the Merkle trees from the root down to
// the leaves that differ, compares the digests of the keys in those leaves
// only, fetches the peer's values for the keys that differ, merges them,
// and pushes the merged values back. Afterwards both hold the same state
// for every key either held, unless either changed meanwhile.
func (s *Store[V]) Sync(ctx context.Context, p Peer[V]) (SyncStats, error) {
	var st SyncStats
	nodes := []int{0}
	for level := 0; level < MerkleLevels && len(nodes) > 0; level++ {
		theirs, err := p.Hashes(ctx, level, nodes)
		if err != nil {
			return st, err
		}
		ours, _ := s.Hashes(ctx, level, nodes)
		st.HashesCompared += len(nodes)
		var differ []int
		for i, n := range nodes {
			if ours[i] != theirs[i] {
				differ = append(differ, n)
			}
		}
		if level == MerkleLevels-1 {
			nodes = differ
			break
		}
		nodes = nodes[:0:0]
		for _, n := range differ {
			for c := range merkleFanout {
				nodes = append(nodes, n*merkleFanout+c)
			}
		}
	}
	if len(nodes) == 0 {
		return st, nil
	}
	st.LeavesDiffered = len(nodes)
	theirs, err := p.LeafDigests(ctx, nodes)
	if err != nil {
		return st, err
	}
	ours, _ := s.LeafDigests(ctx, nodes)
	var keys []string
	for k, d := range theirs {
		if od, ok := ours[k]; !ok || od != d {
			keys = append(keys, k)
		}
	}
	for k := range ours {
		if _, ok := theirs[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	st.KeysDiffered = len(keys)
	if len(keys) == 0 {
		return st, nil
	}
	got, err := p.Fetch(ctx, keys)
	if err != nil {
		return st, err
	}
	st.KeysFetched = len(got)
	if err := s.Push(ctx, got); err != nil {
		return st, err
	}
	mine, _ := s.Fetch(ctx, keys)
	if err := p.Push(ctx, mine); err != nil {
		return st, err
	}
	st.KeysPushed = len(mine)
	return st, nil
}
