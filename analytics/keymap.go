package analytics

import (
	"iter"

	"github.com/vexfs/semevent"
)

// keyMap maps the keys of one pane to their aggregates. Keys without N
// (paths, topics, kinds, tenants: the common case) live in one string map
// per tenant, which Go looks up on its string fast path — about twice as
// fast per event as a map keyed by the whole semevent.Key; the others
// live in a map keyed by the whole Key. Not safe for concurrent use.
type keyMap struct {
	n        int
	hint     int
	tenants  map[string]map[string]*Aggregate
	numbered map[semevent.Key]*Aggregate
	// the string map of the tenant looked up last (nil: none yet)
	lastTenant string
	last       map[string]*Aggregate
}

func newKeyMap(hint int) *keyMap {
	return &keyMap{hint: hint, tenants: make(map[string]map[string]*Aggregate, 1)}
}

// get returns k's aggregate, or nil.
func (m *keyMap) get(k *semevent.Key) *Aggregate {
	if k.N != 0 {
		return m.numbered[*k]
	}
	return m.getS(k.Tenant, k.S)
}

// getS returns the aggregate of the key {tenant, s, 0}, or nil. It takes
// the strings rather than a Key so that the hot path builds no Key value
// (copying one cost store-forwarding stalls worth ~40 ns per event).
func (m *keyMap) getS(tenant, s string) *Aggregate {
	if m.last == nil || tenant != m.lastTenant {
		m.last, m.lastTenant = m.tenants[tenant], tenant
		if m.last == nil {
			return nil
		}
	}
	return m.last[s]
}

// add sets k's aggregate; k must not be in m.
func (m *keyMap) add(k semevent.Key, a *Aggregate) {
	m.n++
	if k.N == 0 {
		t := m.tenants[k.Tenant]
		if t == nil {
			t = make(map[string]*Aggregate, m.hint)
			m.tenants[k.Tenant] = t
		}
		t[k.S] = a
		m.last, m.lastTenant = t, k.Tenant
		return
	}
	if m.numbered == nil {
		m.numbered = map[semevent.Key]*Aggregate{}
	}
	m.numbered[k] = a
}

// len returns the number of keys; 0 for a nil m.
func (m *keyMap) len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// all yields every key and aggregate, in no particular order.
func (m *keyMap) all() iter.Seq2[semevent.Key, *Aggregate] {
	return func(yield func(semevent.Key, *Aggregate) bool) {
		for tenant, t := range m.tenants {
			for s, a := range t {
				if !yield(semevent.Key{Tenant: tenant, S: s}, a) {
					return
				}
			}
		}
		for k, a := range m.numbered {
			if !yield(k, a) {
				return
			}
		}
	}
}

// reset empties m for reuse. It keeps the string map of a single tenant
// (the usual case) and lets the maps of many tenants go.
func (m *keyMap) reset(hint int) {
	m.n, m.hint = 0, hint
	m.last, m.lastTenant = nil, ""
	if len(m.tenants) == 1 {
		for _, t := range m.tenants {
			clear(t)
		}
	} else {
		clear(m.tenants)
	}
	m.numbered = nil
}
