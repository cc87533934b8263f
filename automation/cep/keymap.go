package cep

import "github.com/vexfs/semevent"

// Per-key state is found with one map lookup per event and key, shared by
// every pattern the event concerns: the engine's keyIndex maps a key to
// its keyEntry, which holds the states of every pattern that has state for
// that key in a small open-addressing table indexed by pattern. (One map
// lookup per pattern per event, hashing and comparing the key string each
// time, was a fifth of the engine's time with a thousand patterns.)
//
// Keys carry the tenant (the engine sets it from the event, whatever the
// KeyFunc returned), so the states of two tenants never meet.

// keyState is one key's state of one pattern.
type keyState interface {
	held() int      // the partial matches, buffered events or pending timers it holds
	release(c *cep) // gives back what it borrowed from c's free lists and empties it for reuse
	hdr() *stateHdr
}

// stateHdr is what every keyState embeds: where it is filed.
type stateHdr struct {
	e   *keyEntry // its key; nil while on a free list
	pos int       // its index in its pattern's stateList.all
}

func (h *stateHdr) hdr() *stateHdr { return h }

// live reports whether the state is filed under a key (not on a free list).
func (h *stateHdr) live() bool { return h.e != nil }

// keyEntry is one key and the states the patterns hold for it.
type keyEntry struct {
	key semevent.Key
	tab []kslot // open addressing on the pattern index, linear probing; len a power of two
	n   int     // used slots
}

type kslot struct {
	pat int32 // pattern index + 1; 0: empty
	st  keyState
}

// slotHash is the identity: patterns woken by the same topic have
// consecutive indices (see numberSlots), so their slots share cache lines.
func slotHash(pat int32, mask int) int { return int(pat) & mask }

// find returns pattern pat's state for the key, or nil.
func (e *keyEntry) find(pat int32) keyState {
	if e == nil || e.n == 0 {
		return nil
	}
	mask := len(e.tab) - 1
	for i := slotHash(pat, mask); ; i = (i + 1) & mask {
		s := &e.tab[i]
		if s.pat == pat+1 {
			return s.st
		}
		if s.pat == 0 {
			return nil
		}
	}
}

// insert files st as pattern pat's state; pat must have none.
func (e *keyEntry) insert(pat int32, st keyState) {
	if (e.n+1)*4 > len(e.tab)*3 {
		old := e.tab
		e.tab = make([]kslot, max(2, 2*len(old)))
		e.n = 0
		for _, s := range old {
			if s.pat != 0 {
				e.insert(s.pat-1, s.st)
			}
		}
	}
	mask := len(e.tab) - 1
	i := slotHash(pat, mask)
	for e.tab[i].pat != 0 {
		i = (i + 1) & mask
	}
	e.tab[i] = kslot{pat: pat + 1, st: st}
	e.n++
}

// remove drops pattern pat's state (backward-shift deletion, so probes
// never meet tombstones).
func (e *keyEntry) remove(pat int32) {
	mask := len(e.tab) - 1
	i := slotHash(pat, mask)
	for e.tab[i].pat != pat+1 {
		if e.tab[i].pat == 0 {
			return
		}
		i = (i + 1) & mask
	}
	e.n--
	for j := i; ; {
		j = (j + 1) & mask
		if e.tab[j].pat == 0 {
			e.tab[i] = kslot{}
			return
		}
		h := slotHash(e.tab[j].pat-1, mask)
		// The entry at j may move to i unless its home h lies cyclically
		// in (i, j].
		if i <= j {
			if i < h && h <= j {
				continue
			}
		} else if i < h || h <= j {
			continue
		}
		e.tab[i] = e.tab[j]
		i = j
	}
}

// keyIndex maps keys to their entries. Keys with only S set (a path
// without a tenant, the common case of a single-tenant deployment) go to
// a map keyed by the string, which the runtime hashes and compares faster
// than the struct. An entry lives while some pattern holds state for its
// key, so the index holds at most MaxKeys × patterns entries.
type keyIndex struct {
	strs map[string]*keyEntry
	m    map[semevent.Key]*keyEntry
	free []*keyEntry // at most maxFree, with their tables
}

// maxFree bounds each free list of recycled entries and states.
const maxFree = 4096

func newKeyIndex() keyIndex {
	return keyIndex{strs: map[string]*keyEntry{}, m: map[semevent.Key]*keyEntry{}}
}

func plain(k semevent.Key) bool { return k.Tenant == "" && k.N == 0 }

func (x *keyIndex) get(k semevent.Key) *keyEntry {
	if plain(k) {
		return x.strs[k.S]
	}
	return x.m[k]
}

func (x *keyIndex) create(k semevent.Key) *keyEntry {
	var e *keyEntry
	if n := len(x.free); n > 0 {
		e = x.free[n-1]
		x.free[n-1] = nil
		x.free = x.free[:n-1]
	} else {
		e = &keyEntry{}
	}
	e.key = k
	if plain(k) {
		x.strs[k.S] = e
	} else {
		x.m[k] = e
	}
	return e
}

// drop removes e, which holds no state, from the index and recycles it.
func (x *keyIndex) drop(e *keyEntry) {
	if plain(e.key) {
		delete(x.strs, e.key.S)
	} else {
		delete(x.m, e.key)
	}
	e.key = semevent.Key{}
	if len(x.free) < maxFree && len(e.tab) <= 64 {
		x.free = append(x.free, e)
	}
}

func (x *keyIndex) len() int { return len(x.strs) + len(x.m) }

// keyRef is one key of the event being handled and, once looked up, its
// entry. The patterns an event concerns share it, so the key is looked up
// once per event, not once per pattern.
type keyRef struct {
	key    semevent.Key
	e      *keyEntry
	looked bool
}

// maxRefs is how many distinct keys of one event the engine remembers;
// an event with more (patterns with many different KeyFuncs) looks the
// others up once per pattern.
const maxRefs = 4

// ref returns the keyRef of key k for the current event.
func (c *cep) ref(k semevent.Key) *keyRef {
	for i := range c.nrefs {
		if r := &c.refs[i]; r.key == k {
			return r
		}
	}
	i := c.nrefs
	if i < maxRefs {
		c.nrefs++
	} else {
		i = maxRefs // the scratch slot, overwritten by the next miss
	}
	c.refs[i] = keyRef{key: k}
	return &c.refs[i]
}

// entry returns r's entry, looking it up the first time; nil if no
// pattern holds state for the key.
func (c *cep) entry(r *keyRef) *keyEntry {
	if !r.looked {
		r.e, r.looked = c.keys.get(r.key), true
	}
	return r.e
}

// dropEntry removes an emptied entry and forgets it in the event's refs.
func (c *cep) dropEntry(e *keyEntry) {
	for i := range c.refs {
		if c.refs[i].e == e {
			c.refs[i].e = nil
		}
	}
	c.keys.drop(e)
}

// stateList is one pattern's states, for the MaxKeys cap and sweeping,
// and a free list of states to reuse. A deleted state leaves a hole in all
// that the next add fills: deleting touches no other state (moving the
// last one into the gap, as a swap-remove does, wrote its position — a
// cache miss on a cold state at every delete).
type stateList[V interface {
	comparable
	keyState
}] struct {
	all   []V   // by position; the zero V is a hole
	holes []int // the positions of the holes in all
	n     int   // states filed: len(all) - len(holes)
	free  []V
}

// get returns p's state for key r, if any.
func (l *stateList[V]) get(c *cep, p *cpat, r *keyRef) (V, bool) {
	st := c.entry(r).find(p.idx)
	if st == nil {
		var zero V
		return zero, false
	}
	return st.(V), true
}

// add files a new (empty, recycled when possible) state under key r, which
// has none for p. When the pattern already holds Options.MaxKeys keys, it
// first evicts one other key's state, chosen at random, and counts it in
// Stats.KeysEvicted. It returns the number of partials the eviction
// dropped, for the matcher's count.
func (l *stateList[V]) add(c *cep, p *cpat, r *keyRef, fresh func() V) (v V, dropped int) {
	var zero V
	if l.n >= c.maxKeys {
		c.stats.KeysEvicted++
		// all holds no hole here: it grows only when it has none, so
		// len(all) <= MaxKeys = n. The loop is a guard, not a search.
		victim := l.all[c.rand()%uint64(len(l.all))]
		for victim == zero {
			victim = l.all[c.rand()%uint64(len(l.all))]
		}
		dropped = victim.held()
		l.del(c, p, victim)
	}
	if n := len(l.free); n > 0 {
		v = l.free[n-1]
		l.free[n-1] = zero
		l.free = l.free[:n-1]
	} else {
		v = fresh()
	}
	e := c.entry(r)
	if e == nil {
		e = c.keys.create(r.key)
		r.e = e
	}
	e.insert(p.idx, v)
	h := v.hdr()
	h.e = e
	if k := len(l.holes); k > 0 {
		h.pos = l.holes[k-1]
		l.holes = l.holes[:k-1]
		l.all[h.pos] = v
	} else {
		h.pos = len(l.all)
		l.all = append(l.all, v)
	}
	l.n++
	return v, dropped
}

// del removes v from its key and recycles it.
func (l *stateList[V]) del(c *cep, p *cpat, v V) {
	h := v.hdr()
	e := h.e
	e.remove(p.idx)
	if e.n == 0 {
		c.dropEntry(e)
	}
	var zero V
	l.n--
	if l.n == 0 {
		clear(l.all)
		l.all, l.holes = l.all[:0], l.holes[:0]
	} else {
		l.all[h.pos] = zero
		l.holes = append(l.holes, h.pos)
	}
	h.e, h.pos = nil, 0
	v.release(c)
	if len(l.free) < maxFree {
		l.free = append(l.free, v)
	}
}

// each calls fn for every state; fn may delete the state it is given.
func (l *stateList[V]) each(fn func(v V)) {
	var zero V
	for i := len(l.all) - 1; i >= 0; i-- {
		if i < len(l.all) && l.all[i] != zero {
			fn(l.all[i])
		}
	}
}

// reset drops every state without recycling it.
func (l *stateList[V]) reset() { *l = stateList[V]{} }

// rand returns a pseudo-random number (xorshift64*), for eviction.
func (c *cep) rand() uint64 {
	x := c.rng
	if x == 0 {
		x = 0x9E3779B97F4A7C15
	}
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	c.rng = x
	return x * 0x2545F4914F6CDD1D
}
