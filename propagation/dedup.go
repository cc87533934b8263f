package propagation

import (
	"github.com/vexfs/semevent"
)

// deduper holds events from the deduplicated boundaries in arrival order
// until their twins arrive or their window ends. It is used only by the
// dispatcher goroutine.
type deduper struct {
	opts   *DedupOptions
	window int64
	ring   []held // arrival order; head is the oldest
	head   int
	n      int
	byKey  map[uint64]int // key → ring index of the oldest held event with it
}

// held is one event waiting for its twins.
type held struct {
	env      envelope
	key      uint64 // 0: takes no part in dedup, released in turn
	deadline int64  // process clock
	nextSame int    // ring index of the next held event with the same key, or -1
}

func newDeduper(o *DedupOptions) *deduper {
	return &deduper{
		opts:   o,
		window: int64(o.Window),
		ring:   make([]held, o.MaxPending+1),
		byKey:  make(map[uint64]int),
	}
}

func (d *deduper) len() int   { return d.n }
func (d *deduper) full() bool { return d.n > d.opts.MaxPending }

// offer folds env into a held event of the same operation seen at another
// boundary and reports true, or holds env and reports false.
func (d *deduper) offer(env envelope, b *Bus) bool {
	ev := env.ev
	key := d.opts.Key(ev)
	last := -1
	if key != 0 {
		if i, ok := d.byKey[key]; ok {
			for ; i != -1; i = d.ring[i].nextSame {
				h := &d.ring[i]
				if !h.env.ev.Seen.Has(ev.Boundary) {
					fold(h, ev)
					b.deduplicated.Add(1)
					return true
				}
				last = i
			}
		}
	}
	t := env.t
	if t == 0 {
		t = semevent.Now()
	}
	i := (d.head + d.n) % len(d.ring)
	d.ring[i] = held{env: env, key: key, deadline: t + d.window, nextSame: -1}
	d.n++
	switch {
	case key == 0:
	case last >= 0:
		d.ring[last].nextSame = i
	default:
		d.byKey[key] = i
	}
	return false
}

// rank orders boundaries by how much context their sightings carry: the
// kept event is the one from the highest rank.
var rank = [semevent.NumBoundaries]uint8{
	semevent.Kernel:    0,
	semevent.Remote:    1,
	semevent.Userspace: 2,
	semevent.FUSE:      3,
}

// fold records sighting x in the held event h, making x the kept event if
// its boundary carries more context.
func fold(h *held, x *semevent.Event) {
	p := h.env.ev
	if rank[x.Boundary] > rank[p.Boundary] {
		x.Seen |= p.Seen
		x.Observed = append(x.Observed, p.Observed...)
		x.Observed = append(x.Observed, sighting(p))
		h.env.ev = x
		return
	}
	p.Seen |= x.Seen
	p.Observed = append(p.Observed, x.Observed...)
	p.Observed = append(p.Observed, sighting(x))
}

func sighting(e *semevent.Event) semevent.Observation {
	return semevent.Observation{ID: e.ID, Boundary: e.Boundary, Time: e.Time, PID: e.PID}
}

// headDue reports whether the oldest held event may leave: it was seen at
// every deduplicated boundary, takes no part in dedup, or waited its window.
func (d *deduper) headDue(now int64) bool {
	h := &d.ring[d.head]
	if h.key == 0 || h.deadline <= now {
		return true
	}
	return h.env.ev.Seen&d.opts.Boundaries == d.opts.Boundaries
}

func (d *deduper) headDeadline() int64 { return d.ring[d.head].deadline }

// pop removes and returns the oldest held event.
func (d *deduper) pop() envelope {
	h := &d.ring[d.head]
	env := h.env
	if h.key != 0 {
		if h.nextSame == -1 {
			delete(d.byKey, h.key)
		} else {
			d.byKey[h.key] = h.nextSame
		}
	}
	*h = held{}
	d.head = (d.head + 1) % len(d.ring)
	d.n--
	return env
}
