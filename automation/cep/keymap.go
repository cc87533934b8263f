package cep

import "github.com/vexfs/semevent"

// keyState is one key's state of one pattern.
type keyState interface {
	held() int      // the partial matches, buffered events or pending timers it holds
	release(c *cep) // gives back what it borrowed from c's free lists
}

// keyMap maps partition keys to one pattern's per-key state. Keys carry
// the tenant (the engine sets it from the event, whatever the KeyFunc
// returned), so the states of two tenants never meet.
//
// Keys with only S set (a path without a tenant, the common case of a
// single-tenant deployment) go to a map keyed by the string, which the
// runtime hashes and compares faster than the struct.
type keyMap[V keyState] struct {
	strs map[string]V
	m    map[semevent.Key]V
}

func newKeyMap[V keyState]() keyMap[V] {
	return keyMap[V]{strs: map[string]V{}, m: map[semevent.Key]V{}}
}

func plain(k semevent.Key) bool { return k.Tenant == "" && k.N == 0 }

// add files v under a new key k. When the pattern already holds
// Options.MaxKeys keys, it first evicts one other key's state, chosen at
// random (map order), and counts it in Stats.KeysEvicted. It returns the
// number of partials the eviction dropped, for the matcher's count.
func (m *keyMap[V]) add(c *cep, k semevent.Key, v V) (dropped int) {
	if len(m.strs)+len(m.m) >= c.maxKeys {
		dropped = m.evictOne(c)
	}
	if plain(k) {
		m.strs[k.S] = v
	} else {
		m.m[k] = v
	}
	return dropped
}

// evictOne drops one key's state, chosen by map order, and returns the
// partials it held.
func (m *keyMap[V]) evictOne(c *cep) int {
	c.stats.KeysEvicted++
	for s, v := range m.strs {
		v.release(c)
		delete(m.strs, s)
		return v.held()
	}
	for k, v := range m.m {
		v.release(c)
		delete(m.m, k)
		return v.held()
	}
	return 0
}

func (m *keyMap[V]) get(k semevent.Key) V {
	if plain(k) {
		return m.strs[k.S]
	}
	return m.m[k]
}

func (m *keyMap[V]) del(k semevent.Key) {
	if plain(k) {
		delete(m.strs, k.S)
	} else {
		delete(m.m, k)
	}
}

// each calls fn for every entry; fn may delete the entry it is given.
func (m *keyMap[V]) each(fn func(k semevent.Key, v V)) {
	for s, v := range m.strs {
		fn(semevent.Key{S: s}, v)
	}
	for k, v := range m.m {
		fn(k, v)
	}
}
