package propagation

import (
	"github.com/vexfs/semevent"
)

// deduper holds events from the deduplicated boundaries until their twins
// arrive or their window ends. Held events wait in one FIFO per boundary of
// the kept sighting, so that events leave in publish order per boundary and
// an event that waits for a twin holds back only later events of its own
// boundary. It is used only by the dispatcher goroutine.
type deduper struct {
	opts   *DedupOptions
	window int64
	slab   []held // entries; index 0 is the nil entry
	free   int32  // head of the free list through nextFIFO
	fifo   [semevent.NumBoundaries]struct{ head, tail int32 }
	byKey  map[uint64]int32 // key → oldest live held entry with that key
	n      int              // live entries
}

// held is one event waiting for its twins.
type held struct {
	env      envelope
	key      uint64 // 0: takes no part in dedup, leaves in turn
	deadline int64  // process clock
	nextFIFO int32  // next entry in its boundary's FIFO (or free list)
	nextSame int32  // next live entry with the same key, in arrival order
	dead     bool   // moved to another FIFO; skipped when it reaches the head
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

// offer folds env into a held event of the same operation seen at another
// boundary and reports true, or holds env until now+Window and reports
// false. The window starts when the dispatcher takes the event, not when it
// was published, so a backlog does not expire events before their twins are
// even looked at.
func (d *deduper) offer(env envelope, now int64, b *Bus) bool {
	ev := env.ev
	key := d.opts.Key(ev)
	var prev, last int32
	if key != 0 {
		for i := d.byKey[key]; i != 0; prev, i = i, d.slab[i].nextSame {
			if !d.slab[i].env.ev.Seen.Has(ev.Boundary) {
				d.fold(prev, i, ev)
				b.deduplicated.Add(1)
				return true
			}
			last = i
		}
	}
	i := d.alloc()
	d.slab[i] = held{env: env, key: key, deadline: now + d.window}
	d.push(ev.Boundary, i)
	d.n++
	switch {
	case key == 0:
	case last != 0:
		d.slab[last].nextSame = i
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

// fold records sighting x in held entry i (whose predecessor in the key
// chain is prev, 0 if i is first). If x's boundary carries more context, x
// becomes the kept event and the entry moves to the tail of x's FIFO: x's
// place in its own boundary's order.
func (d *deduper) fold(prev, i int32, x *semevent.Event) {
	h := &d.slab[i]
	p := h.env.ev
	if rank[x.Boundary] <= rank[p.Boundary] {
		p.Seen |= x.Seen
		p.Observed = append(p.Observed, x.Observed...)
		p.Observed = append(p.Observed, sighting(x))
		return
	}
	x.Seen |= p.Seen
	x.Observed = append(x.Observed, p.Observed...)
	x.Observed = append(x.Observed, sighting(p))
	j := d.alloc()
	h = &d.slab[i] // alloc may have moved the slab
	d.slab[j] = held{env: envelope{ev: x, t: h.env.t}, key: h.key, deadline: h.deadline, nextSame: h.nextSame}
	if prev == 0 {
		d.byKey[h.key] = j
	} else {
		d.slab[prev].nextSame = j
	}
	h.dead, h.env, h.nextSame = true, envelope{}, 0
	d.push(x.Boundary, j)
}

func sighting(e *semevent.Event) semevent.Observation {
	return semevent.Observation{ID: e.ID, Boundary: e.Boundary, Time: e.Time, PID: e.PID}
}

// due reports whether entry h may leave: it was seen at every deduplicated
// boundary, takes no part in dedup, or waited its window.
func (d *deduper) due(h *held, now int64) bool {
	if h.key == 0 || h.deadline <= now {
		return true
	}
	return h.env.ev.Seen&d.opts.Boundaries == d.opts.Boundaries
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
func (d *deduper) popDue(now int64, out []envelope) []envelope {
	for b := range d.fifo {
		for i := d.head(b); i != 0 && d.due(&d.slab[i], now); i = d.head(b) {
			out = append(out, d.pop(b))
		}
	}
	return out
}

// popOldest removes and returns the live entry with the earliest deadline
// among the FIFO heads: MaxPending is exceeded, or Close is draining.
func (d *deduper) popOldest() envelope {
	best := -1
	for b := range d.fifo {
		if i := d.head(b); i != 0 && (best < 0 || d.slab[i].deadline < d.slab[d.fifo[best].head].deadline) {
			best = b
		}
	}
	return d.pop(best)
}

// nextDeadline returns the earliest deadline among the FIFO heads.
func (d *deduper) nextDeadline() int64 {
	var next int64
	for b := range d.fifo {
		if i := d.head(b); i != 0 && (next == 0 || d.slab[i].deadline < next) {
			next = d.slab[i].deadline
		}
	}
	return next
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
	if h.key != 0 {
		d.unlink(i)
	}
	d.n--
	d.release(i)
	return env
}

// unlink removes entry i from its key chain.
func (d *deduper) unlink(i int32) {
	h := &d.slab[i]
	first := d.byKey[h.key]
	if first == i {
		if h.nextSame == 0 {
			delete(d.byKey, h.key)
		} else {
			d.byKey[h.key] = h.nextSame
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
