package cep

import "github.com/vexfs/semevent"

// keyMap maps partition keys to one pattern's per-key state. Keys carry
// the tenant (the engine sets it from the event, whatever the KeyFunc
// returned), so the states of two tenants never meet.
type keyMap[V any] struct {
	m map[semevent.Key]V
}

func newKeyMap[V any]() keyMap[V] { return keyMap[V]{m: map[semevent.Key]V{}} }

func (m *keyMap[V]) get(k semevent.Key) V { return m.m[k] }

func (m *keyMap[V]) set(k semevent.Key, v V) { m.m[k] = v }

func (m *keyMap[V]) del(k semevent.Key) { delete(m.m, k) }

// each calls fn for every entry; fn may delete the entry it is given.
func (m *keyMap[V]) each(fn func(k semevent.Key, v V)) {
	for k, v := range m.m {
		fn(k, v)
	}
}
