package automation

// keyMap maps partition keys to per-key state. String-only and
// number-only keys, the common cases (ByPath, ByTenant, ByPID), go to
// maps the runtime hashes fastest.
type keyMap[V any] struct {
	strs  map[string]V
	nums  map[uint64]V
	mixed map[Key]V
}

func newKeyMap[V any]() keyMap[V] {
	return keyMap[V]{strs: map[string]V{}, nums: map[uint64]V{}, mixed: map[Key]V{}}
}

func (m *keyMap[V]) get(k Key) V {
	switch {
	case k.N == 0:
		return m.strs[k.S]
	case k.S == "":
		return m.nums[k.N]
	}
	return m.mixed[k]
}

func (m *keyMap[V]) set(k Key, v V) {
	switch {
	case k.N == 0:
		m.strs[k.S] = v
	case k.S == "":
		m.nums[k.N] = v
	default:
		m.mixed[k] = v
	}
}

func (m *keyMap[V]) del(k Key) {
	switch {
	case k.N == 0:
		delete(m.strs, k.S)
	case k.S == "":
		delete(m.nums, k.N)
	default:
		delete(m.mixed, k)
	}
}

// each calls fn for every entry; fn may delete the entry it is given.
func (m *keyMap[V]) each(fn func(k Key, v V)) {
	for s, v := range m.strs {
		fn(Key{S: s}, v)
	}
	for n, v := range m.nums {
		fn(Key{N: n}, v)
	}
	for k, v := range m.mixed {
		fn(k, v)
	}
}
