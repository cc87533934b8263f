package propagation

import (
	"github.com/vexfs/semevent"
)

// deduper holds events from the deduplicated boundaries until their twins
// arrive or no twin can arrive any more. Held events wait in one FIFO per
// boundary of the kept sighting, so that events leave in publish order per
// boundary and an event that waits for a twin holds back only later events
// of its own boundary. It is used only by the dispatcher goroutine.
//
// Time is the bus clock's publish stamp (envelope.ts). A held event whose
// window ends at deadline may leave unpaired once, for every deduplicated
// boundary that has not seen it, the dispatcher has taken every event
// stamped at or before deadline: the watermark wm[b] (see dispatcher.grace).
type deduper struct {
	opts   *DedupOptions
	window int64
	slab   []held // entries; index 0 is the nil entry
	free   int32  // head of the free list through nextFIFO
	fifo   [semevent.NumBoundaries]struct{ head, tail int32 }
	byKey  map[uint64]int32 // Key.Hash → oldest live held entry with that hash
	n      int              // live entries
}

// held is one event waiting for its twins.
type held struct {
	env      envelope
	key      semevent.Key // empty: takes no part in dedup, leaves in turn
	hash     uint64       // key.Hash()
	stamp    int64        // publish stamp of the first sighting
	seq      uint64       // the dispatcher's take count of the first sighting (Sync)
	nextFIFO int32        // next entry in its boundary's FIFO (or free list)
	nextSame int32        // next live entry with the same hash, in arrival order
	dead     bool         // moved to another FIFO; skipped when it reaches the head
}

func newDeduper(o *DedupOptions) *deduper {
	return &deduper{
		opts:   o,
		window: int64(o.Window),
		slab:   make([]held, 1, 1024),
		byKey:  make(map[uint64]int32),
	}
}

func (d *deduper) len() int   { return d.n }
func (d *deduper) full() bool { return d.n > d.opts.MaxPending }

func (d *deduper) alloc() int32 {
	if i := d.free; i != 0 {
		d.free = d.slab[i].nextFIFO
		return i
	}
	d.slab = append(d.slab, held{})
	return int32(len(d.slab) - 1)
}

func (d *deduper) push(b semevent.Boundary, i int32) {
	f := &d.fifo[b]
	if f.tail == 0 {
		f.head = i
	} else {
		d.slab[f.tail].nextFIFO = i
	}
	f.tail = i
}

// offer folds env into a held event of the same operation (equal key, so
// the same tenant) seen at another boundary and stamped at most Window
// apart, and reports true; or holds env and reports false.
func (d *deduper) offer(env envelope, seq uint64, b *Bus) bool {
	ev := env.ev
	var key semevent.Key
	if env.src != srcOwn { // this node's committed events were folded before they were replicated
		key = d.opts.Key(ev)
		key.Tenant = ev.Tenant // a key never spans tenants, whatever Key returns
	}
	var hash uint64
	var prev, last int32
	if !emptyKey(key) {
		hash = key.Hash()
		for i := d.byKey[hash]; i != 0; prev, i = i, d.slab[i].nextSame {
			h := &d.slab[i]
			if h.key == key && !h.env.ev.Seen.Has(ev.Boundary) && env.ts <= h.stamp+d.window && env.ts >= h.stamp-d.window &&
				foldable(h.env.src, env.src) {
				d.fold(prev, i, env)
				b.deduplicated.Add(1)
				return true
			}
			last = i
		}
	}
	i := d.alloc()
	d.slab[i] = held{env: env, key: key, hash: hash, stamp: env.ts, seq: seq}
	d.push(env.queue(), i)
	d.n++
	switch {
	case emptyKey(key):
	case last != 0:
		d.slab[last].nextSame = i
	default:
		d.byKey[hash] = i
	}
	return false
}

// foldable reports whether sightings from sources a and b may fold: a
// replicated publish on its way to the coordinator never folds with an
// event already committed by another node (the kept event would be
// either appended twice or not delivered).
func foldable(a, b source) bool {
	return !(a == srcReplicate && b == srcRemote || a == srcRemote && b == srcReplicate)
}

// rank orders boundaries by how much context their sightings carry: the
// kept event is the one from the highest rank.
var rank = [semevent.NumBoundaries]uint8{
	semevent.Kernel:    0,
	semevent.Remote:    1,
	semevent.Userspace: 2,
	semevent.FUSE:      3,
}

// fold records sighting x in held entry i (whose predecessor in the key
// chain is prev, 0 if i is first). If x's boundary carries more context, x
// becomes the kept event and the entry moves to the tail of x's FIFO: x's
// place in its own boundary's order. The durable publishes waiting on
// either sighting wait on the kept one.
func (d *deduper) fold(prev, i int32, xe envelope) {
	h := &d.slab[i]
	p, x := h.env.ev, xe.ev
	if rank[x.Boundary] <= rank[p.Boundary] {
		p.Seen |= x.Seen
		p.Observed = append(p.Observed, x.Observed...)
		p.Observed = append(p.Observed, sighting(x))
		h.env.c = h.env.c.join(xe.c)
		h.env.src = max(h.env.src, xe.src) // replicated when either sighting was
		return
	}
	x.Seen |= p.Seen
	x.Observed = append(x.Observed, p.Observed...)
	x.Observed = append(x.Observed, sighting(p))
	j := d.alloc()
	h = &d.slab[i] // alloc may have moved the slab
	d.slab[j] = held{env: envelope{ev: x, t: h.env.t, ts: h.env.ts, c: xe.c.join(h.env.c), src: max(h.env.src, xe.src)},
		key: h.key, hash: h.hash, stamp: h.stamp, seq: h.seq, nextSame: h.nextSame}
	if prev == 0 {
		d.byKey[h.hash] = j
	} else {
		d.slab[prev].nextSame = j
	}
	h.dead, h.env, h.nextSame = true, envelope{}, 0
	d.push(xe.queue(), j)
}

func sighting(e *semevent.Event) semevent.Observation {
	return semevent.Observation{ID: e.ID, Boundary: e.Boundary, Time: e.Time, PID: e.PID}
}

// due reports whether entry h may leave: it takes no part in dedup, it was
// seen at every deduplicated boundary, or every boundary that has not seen
// it has been taken past the end of its window (wm is the dispatcher's
// watermarks).
func (d *deduper) due(h *held, wm *[semevent.NumBoundaries]int64) bool {
	if emptyKey(h.key) {
		return true
	}
	missing := d.opts.Boundaries &^ h.env.ev.Seen
	if missing == 0 {
		return true
	}
	end := h.stamp + d.window
	for b := range semevent.NumBoundaries {
		if missing.Has(semevent.Boundary(b)) && wm[b] < end {
			return false
		}
	}
	return true
}

// head returns the live entry at the head of boundary b's FIFO, freeing
// dead entries on the way, or 0.
func (d *deduper) head(b int) int32 {
	f := &d.fifo[b]
	for f.head != 0 && d.slab[f.head].dead {
		i := f.head
		f.head = d.slab[i].nextFIFO
		if f.head == 0 {
			f.tail = 0
		}
		d.release(i)
	}
	return f.head
}

// popDue appends to out every entry that may leave, in FIFO order per
// boundary, stopping in each FIFO at the first that may not.
func (d *deduper) popDue(wm *[semevent.NumBoundaries]int64, out []envelope) []envelope {
	for b := range d.fifo {
		for i := d.head(b); i != 0 && d.due(&d.slab[i], wm); i = d.head(b) {
			out = append(out, d.pop(b))
		}
	}
	return out
}

// popOldest removes and returns the live entry with the earliest stamp
// among the FIFO heads: MaxPending is exceeded, or Close is draining.
func (d *deduper) popOldest() envelope {
	best := -1
	for b := range d.fifo {
		if i := d.head(b); i != 0 && (best < 0 || d.slab[i].stamp < d.slab[d.fifo[best].head].stamp) {
			best = b
		}
	}
	return d.pop(best)
}

// nextDeadline returns the earliest end of window among the FIFO heads
// that are not due, and whether there is one.
func (d *deduper) nextDeadline(wm *[semevent.NumBoundaries]int64) (int64, bool) {
	var next int64
	found := false
	for b := range d.fifo {
		i := d.head(b)
		if i == 0 || d.due(&d.slab[i], wm) {
			continue
		}
		if end := d.slab[i].stamp + d.window; !found || end < next {
			next, found = end, true
		}
	}
	return next, found
}

// pop removes the live head of FIFO b.
func (d *deduper) pop(b int) envelope {
	f := &d.fifo[b]
	i := f.head
	h := &d.slab[i]
	env := h.env
	f.head = h.nextFIFO
	if f.head == 0 {
		f.tail = 0
	}
	if !emptyKey(h.key) {
		d.unlink(i)
	}
	d.n--
	d.release(i)
	return env
}

// unlink removes entry i from its hash chain.
func (d *deduper) unlink(i int32) {
	h := &d.slab[i]
	first := d.byKey[h.hash]
	if first == i {
		if h.nextSame == 0 {
			delete(d.byKey, h.hash)
		} else {
			d.byKey[h.hash] = h.nextSame
		}
		return
	}
	for j := first; j != 0; j = d.slab[j].nextSame {
		if d.slab[j].nextSame == i {
			d.slab[j].nextSame = h.nextSame
			return
		}
	}
}

func (d *deduper) release(i int32) {
	d.slab[i] = held{nextFIFO: d.free}
	d.free = i
}
