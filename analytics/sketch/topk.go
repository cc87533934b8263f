package sketch

import (
	"cmp"
	"slices"
)

// DefaultTopKCapacity is the number of counters of a [TopK] made with
// capacity 0.
const DefaultTopKCapacity = 64

// TopK finds heavy hitters with the Space-Saving algorithm (Metwally,
// Agrawal and El Abbadi, 2005): it keeps at most Capacity counters; a new
// key takes over the smallest counter and inherits its count as error.
type TopK struct {
	capacity int
	total    uint64
	heap     []*node          // min-heap by Count
	index    map[string]*node // key → its counter
}

// node is one counter and its position in the heap, so that moving it
// does not touch the map.
type node struct {
	Counter
	pos int
}

// Counter is one key's estimated count. The true count lies in
// [Count−Err, Count].
type Counter struct {
	Key   string
	Count uint64
	Err   uint64
}

// NewTopK returns an empty TopK with the given number of counters (0 means
// [DefaultTopKCapacity]).
func NewTopK(capacity int) *TopK {
	if capacity <= 0 {
		capacity = DefaultTopKCapacity
	}
	return &TopK{capacity: capacity, index: make(map[string]*node, capacity)}
}

// Capacity returns the number of counters.
func (t *TopK) Capacity() int { return t.capacity }

// Total returns the total weight added.
func (t *TopK) Total() uint64 { return t.total }

// Add counts key w times.
func (t *TopK) Add(key string, w uint64) {
	if w == 0 {
		return
	}
	t.total += w
	if n, ok := t.index[key]; ok {
		n.Count += w
		t.down(n.pos)
		return
	}
	if len(t.heap) < t.capacity {
		n := &node{Counter: Counter{Key: key, Count: w}, pos: len(t.heap)}
		t.heap = append(t.heap, n)
		t.index[key] = n
		t.up(n.pos)
		return
	}
	m := t.heap[0]
	delete(t.index, m.Key)
	m.Key, m.Err, m.Count = key, m.Count, m.Count+w
	t.index[key] = m
	t.down(0)
}

func (t *TopK) less(i, j int) bool { return t.heap[i].Count < t.heap[j].Count }

func (t *TopK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.heap[i].pos, t.heap[j].pos = i, j
}

func (t *TopK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *TopK) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && t.less(r, l) {
			c = r
		}
		if !t.less(c, i) {
			return
		}
		t.swap(i, c)
		i = c
	}
}

// minCount is the count a key absent from a full summary may have at most.
func (t *TopK) minCount() uint64 {
	if len(t.heap) < t.capacity {
		return 0
	}
	return t.heap[0].Count
}

// Merge folds o into t; both must have the same capacity. A key missing
// from a full summary is credited with that summary's smallest count, so
// counts stay upper bounds.
func (t *TopK) Merge(o *TopK) error {
	if o.capacity != t.capacity {
		return ErrIncompatible
	}
	if o.total == 0 {
		return nil
	}
	tm, om := t.minCount(), o.minCount()
	all := make(map[string]Counter, len(t.heap)+len(o.heap))
	for _, c := range t.heap {
		all[c.Key] = Counter{Key: c.Key, Count: c.Count + om, Err: c.Err + om}
	}
	for _, n := range o.heap {
		c := n.Counter
		if a, ok := all[c.Key]; ok {
			a.Count += c.Count - om
			a.Err += c.Err - om
			all[c.Key] = a
		} else {
			all[c.Key] = Counter{Key: c.Key, Count: c.Count + tm, Err: c.Err + tm}
		}
	}
	cs := make([]Counter, 0, len(all))
	for _, c := range all {
		cs = append(cs, c)
	}
	sortCounters(cs)
	cs = cs[:min(len(cs), t.capacity)]
	t.total += o.total
	t.rebuild(cs)
	return nil
}

func (t *TopK) rebuild(cs []Counter) {
	t.heap = t.heap[:0]
	clear(t.index)
	for _, c := range cs {
		n := &node{Counter: c, pos: len(t.heap)}
		t.heap = append(t.heap, n)
		t.index[c.Key] = n
		t.up(n.pos)
	}
}

// counters returns the counters in heap order.
func (t *TopK) counters() []Counter {
	cs := make([]Counter, len(t.heap))
	for i, n := range t.heap {
		cs[i] = n.Counter
	}
	return cs
}

func sortCounters(cs []Counter) {
	slices.SortFunc(cs, func(a, b Counter) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Key, b.Key)
	})
}

// Top returns the n largest counters, largest first (ties by key).
func (t *TopK) Top(n int) []Counter {
	cs := t.counters()
	sortCounters(cs)
	return cs[:min(n, len(cs))]
}

// Clone returns a copy of t.
func (t *TopK) Clone() *TopK {
	c := &TopK{capacity: t.capacity, total: t.total, index: make(map[string]*node, len(t.index))}
	c.rebuild(t.counters())
	return c
}

// MarshalBinary encodes t.
func (t *TopK) MarshalBinary() ([]byte, error) { return t.AppendBinary(nil) }

// AppendBinary appends the encoding of t to b: magic 'T', version,
// capacity, total, counter count, then each counter's key, count, error.
func (t *TopK) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, 'T', version)
	b = appendUvarint(b, uint64(t.capacity))
	b = appendUvarint(b, t.total)
	b = appendUvarint(b, uint64(len(t.heap)))
	for _, c := range t.heap {
		b = appendUvarint(b, uint64(len(c.Key)))
		b = append(b, c.Key...)
		b = appendUvarint(b, c.Count)
		b = appendUvarint(b, c.Err)
	}
	return b, nil
}

// UnmarshalBinary replaces t with the decoded b.
func (t *TopK) UnmarshalBinary(b []byte) error {
	d := decoder{name: "TopK", b: b}
	d.header('T')
	capacity := d.uvarint()
	if d.err == nil && (capacity == 0 || capacity > 1<<20) {
		d.fail("capacity out of range")
	}
	total := d.uvarint()
	n := d.uvarint()
	if d.err == nil && n > capacity {
		d.fail("more counters than capacity")
	}
	if d.err != nil {
		return d.err
	}
	nt := NewTopK(int(capacity))
	nt.total = total
	cs := make([]Counter, 0, n)
	seen := make(map[string]bool, n)
	var sum uint64
	for range n {
		key := string(d.bytes(d.uvarint()))
		c := Counter{Key: key, Count: d.uvarint(), Err: d.uvarint()}
		if d.err != nil {
			break
		}
		if c.Err > c.Count || c.Count == 0 {
			d.fail("counter error above count")
		}
		if seen[key] {
			d.fail("duplicate key")
		}
		seen[key] = true
		if sum+c.Count-c.Err < sum {
			d.fail("count overflows")
		}
		sum += c.Count - c.Err
		cs = append(cs, c)
	}
	if d.err == nil && sum > total {
		d.fail("counts exceed total")
	}
	if err := d.done(); err != nil {
		return err
	}
	nt.rebuild(cs)
	*t = *nt
	return nil
}
