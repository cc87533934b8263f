package coordlog

import "github.com/vexfs/semevent"

// DefaultWindow is the default number of committed event IDs a shard
// remembers for exactly-once appends (coord.Options.DedupWindow,
// raft.Options.DedupWindow).
const DefaultWindow = 100_000

// MaxWindow bounds a window: 16 Mi IDs, about 0.8 GiB of map and ring.
const MaxWindow = 1 << 24

// Window remembers the IDs of the last n committed events of one shard
// and the index each was committed at, so that an event appended again
// (a client retrying an append whose outcome it did not learn) is
// reported as already committed instead of stored twice. It is
// count-based, so replicas that apply the same log hold the same window:
// deterministic, as a replicated state machine must be. The newest n IDs
// are kept; adding the (n+1)th forgets the oldest (Evicted counts them).
// It costs about 50 bytes per remembered ID.
//
// A Window is not safe for concurrent use.
type Window struct {
	n       int
	ring    []WindowEntry // the last n entries, oldest at head once full
	head    int
	idx     map[semevent.ID]windowVal
	evicted uint64
}

// windowVal is what the window knows of an ID: its index, and the tag it
// was added with.
type windowVal struct{ index, tag uint64 }

// WindowEntry is one remembered ID, the index it was committed at and
// the tag it was added with.
type WindowEntry struct {
	ID    semevent.ID
	Index uint64
	Tag   uint64
}

// NewWindow returns an empty window of n IDs; n <= 0 remembers nothing.
func NewWindow(n int) *Window {
	return &Window{n: max(n, 0), idx: make(map[semevent.ID]windowVal)}
}

// Size returns the window's capacity.
func (w *Window) Size() int { return w.n }

// Len returns how many IDs it holds.
func (w *Window) Len() int { return len(w.ring) }

// Evicted counts the IDs forgotten to make room.
func (w *Window) Evicted() uint64 { return w.evicted }

// Lookup returns the index id was committed at, if the window holds it.
func (w *Window) Lookup(id semevent.ID) (uint64, bool) {
	v, ok := w.idx[id]
	return v.index, ok
}

// LookupTag is Lookup that also returns the tag id was added with (0 for
// Add).
func (w *Window) LookupTag(id semevent.ID) (index, tag uint64, ok bool) {
	v, ok := w.idx[id]
	return v.index, v.tag, ok
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
	if len(w.ring) < w.n {
		w.ring = append(w.ring, e)
	} else {
		old := w.ring[w.head]
		if w.idx[old.ID].index == old.Index {
			delete(w.idx, old.ID)
		}
		w.ring[w.head] = e
		w.head = (w.head + 1) % w.n
		w.evicted++
	}
	w.idx[id] = windowVal{index: index, tag: tag}
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
	clear(w.idx)
	for _, e := range es {
		w.AddTagged(e.ID, e.Index, e.Tag)
	}
}
