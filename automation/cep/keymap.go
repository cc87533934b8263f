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
type keyMap[V keyState] struct {
	m map[semevent.Key]V
}

func newKeyMap[V keyState]() keyMap[V] { return keyMap[V]{m: map[semevent.Key]V{}} }

// add files v under a new key k. When the pattern already holds
// Options.MaxKeys keys, it first evicts one other key's state, chosen at
// random (map order), and counts it in Stats.KeysEvicted. It returns the
// number of partials the eviction dropped, for the matcher's count.
func (m *keyMap[V]) add(c *cep, k semevent.Key, v V) (dropped int) {
	if len(m.m) >= c.maxKeys {
		for vk, vv := range m.m {
			dropped = vv.held()
			vv.release(c)
			delete(m.m, vk)
			c.stats.KeysEvicted++
			break
		}
	}
	m.m[k] = v
	return dropped
}

func (m *keyMap[V]) get(k semevent.Key) V { return m.m[k] }

func (m *keyMap[V]) del(k semevent.Key) { delete(m.m, k) }

// each calls fn for every entry; fn may delete the entry it is given.
func (m *keyMap[V]) each(fn func(k semevent.Key, v V)) {
	for k, v := range m.m {
		fn(k, v)
	}
}
