package coordlog

import (
	"math/bits"

	"github.com/vexfs/semevent"
)

// DefaultWindow is the default number of committed event IDs a shard
// remembers for exactly-once appends (coord.Options.DedupWindow,
// raft.Options.DedupWindow).
const DefaultWindow = 100_000

// MaxWindow bounds a window: 16 Mi IDs, about 0.6 GiB of ring and index.
const MaxWindow = 1 << 24

// Window remembers the IDs of the last n committed events of one shard
// and the index each was committed at, so that an event appended again
// (a client retrying an append whose outcome it did not learn) is
// reported as already committed instead of stored twice. It is
// count-based, so replicas that apply the same log hold the same window:
// deterministic, as a replicated state machine must be. The newest n IDs
// are kept; adding the (n+1)th forgets the oldest (Evicted counts them).
// A full window of n IDs costs 32n bytes of ring (grown to n exactly) and
// at most 16n bytes of index: 4-byte slots, at most half full, and at
// least 1024 of them.
//
// A Window is not safe for concurrent use.
type Window struct {
	n    int
	ring []WindowEntry // the last n entries, oldest at head once full
	head int
	// slots index the ring by ID (linear probing): 0 is empty, else
	// slotUsed | an 7-bit hash of the ID | its ring position. The hash
	// bits let a probe skip most other IDs without reading the ring;
	// an ID added again points at its newest entry.
	slots   []uint32
	used    int // slots in use
	evicted uint64
}

const (
	slotUsed = 1 << 31
	slotPos  = 1<<24 - 1 // MaxWindow positions
	minSlots = 1 << 10
)

// WindowEntry is one remembered ID, the index it was committed at and
// the tag it was added with.
type WindowEntry struct {
	ID    semevent.ID
	Index uint64
	Tag   uint64
}

// NewWindow returns an empty window of n IDs, n at most MaxWindow; n <= 0
// remembers nothing.
func NewWindow(n int) *Window {
	return &Window{n: min(max(n, 0), MaxWindow)}
}

// Size returns the window's capacity.
func (w *Window) Size() int { return w.n }

// Len returns how many IDs it holds.
func (w *Window) Len() int { return len(w.ring) }

// Evicted counts the IDs forgotten to make room.
func (w *Window) Evicted() uint64 { return w.evicted }

// Lookup returns the index id was committed at, if the window holds it.
func (w *Window) Lookup(id semevent.ID) (uint64, bool) {
	index, _, ok := w.LookupTag(id)
	return index, ok
}

// LookupTag is Lookup that also returns the tag id was added with (0 for
// Add).
func (w *Window) LookupTag(id semevent.ID) (index, tag uint64, ok bool) {
	if w.used == 0 {
		return 0, 0, false
	}
	i, found := w.find(id, hashID(id))
	if !found {
		return 0, 0, false
	}
	e := &w.ring[w.slots[i]&slotPos]
	return e.Index, e.Tag, true
}

// Add remembers id as committed at index, forgetting the oldest ID when
// the window is full. Indexes must be added in increasing order; the zero
// ID is not remembered.
func (w *Window) Add(id semevent.ID, index uint64) { w.AddTagged(id, index, 0) }

// AddTagged is Add with a tag that LookupTag returns: coord/raft tags an
// ID with the proposal that committed it, to tell a retry of that same
// proposal from another append of the ID.
func (w *Window) AddTagged(id semevent.ID, index, tag uint64) {
	if w.n == 0 || id.IsZero() {
		return
	}
	e := WindowEntry{ID: id, Index: index, Tag: tag}
	var pos int
	if len(w.ring) < w.n {
		if len(w.ring) == cap(w.ring) { // grow, but never past n
			ring := make([]WindowEntry, len(w.ring), min(max(2*cap(w.ring), 64), w.n))
			copy(ring, w.ring)
			w.ring = ring
		}
		pos = len(w.ring)
		w.ring = append(w.ring, e)
	} else {
		pos = w.head
		w.forget(pos)
		w.ring[pos] = e
		w.head = (w.head + 1) % w.n
		w.evicted++
	}
	if 2*(w.used+1) > len(w.slots) {
		w.grow()
	}
	h := hashID(id)
	i, found := w.find(id, h)
	if !found {
		w.used++
	}
	w.slots[i] = slotUsed | uint32(h>>57)<<24 | uint32(pos)
}

// forget unindexes the ring entry at pos, unless its ID was added again
// since (the index then points at the newer entry).
func (w *Window) forget(pos int) {
	id := w.ring[pos].ID
	i, found := w.find(id, hashID(id))
	if !found || int(w.slots[i]&slotPos) != pos {
		return
	}
	// Backward-shift deletion (Knuth's Algorithm R): move later entries
	// of the probe run into the hole unless their home slot lies
	// cyclically in (hole, their slot].
	mask := len(w.slots) - 1
	for j := i; ; {
		j = (j + 1) & mask
		s := w.slots[j]
		if s == 0 {
			break
		}
		k := w.home(hashID(w.ring[s&slotPos].ID))
		if i <= j && i < k && k <= j || i > j && (i < k || k <= j) {
			continue
		}
		w.slots[i] = s
		i = j
	}
	w.slots[i] = 0
	w.used--
}

// find returns the slot holding id, or the empty slot where it would go.
func (w *Window) find(id semevent.ID, h uint64) (int, bool) {
	mask := len(w.slots) - 1
	tag := uint32(h>>57) << 24
	for i := w.home(h); ; i = (i + 1) & mask {
		s := w.slots[i]
		if s == 0 {
			return i, false
		}
		if s&^(slotUsed|slotPos) == tag && w.ring[s&slotPos].ID == id {
			return i, true
		}
	}
}

func (w *Window) home(h uint64) int { return int(h) & (len(w.slots) - 1) }

// grow doubles the index (at most to twice the window) and reindexes the
// ring.
func (w *Window) grow() {
	n := max(len(w.slots)*2, minSlots)
	w.slots = make([]uint32, n)
	w.used = 0
	for pos := range w.ring {
		e := &w.ring[pos]
		h := hashID(e.ID)
		i, found := w.find(e.ID, h)
		if found && w.newer(int(w.slots[i]&slotPos), pos) {
			continue
		}
		if !found {
			w.used++
		}
		w.slots[i] = slotUsed | uint32(h>>57)<<24 | uint32(pos)
	}
}

// newer reports whether ring position a holds a later entry than b.
func (w *Window) newer(a, b int) bool {
	age := func(p int) int { return (p - w.head + len(w.ring)) % max(len(w.ring), 1) }
	return age(a) > age(b)
}

// hashID mixes both halves of an ID (IDs of one generator differ only
// in their time) with MurmurHash3's 64-bit finalizer.
func hashID(id semevent.ID) uint64 {
	x := id.Nanos() ^ bits.RotateLeft64(uint64(id.Node())<<32|uint64(id.Salt()), 29)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

// Entries returns the remembered entries, oldest first, as a new slice.
func (w *Window) Entries() []WindowEntry {
	out := make([]WindowEntry, 0, len(w.ring))
	out = append(out, w.ring[w.head:]...)
	return append(out, w.ring[:w.head]...)
}

// Reset replaces the content with es (oldest first), as restored from a
// snapshot or a checkpoint; only the newest Size() are kept.
func (w *Window) Reset(es []WindowEntry) {
	w.ring, w.head = w.ring[:0], 0
	clear(w.slots)
	w.used = 0
	for _, e := range es {
		w.AddTagged(e.ID, e.Index, e.Tag)
	}
}
