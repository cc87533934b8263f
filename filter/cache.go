package filter

import (
	"hash/maphash"
	"math/bits"
	"sync/atomic"

	"github.com/vexfs/semevent"
)

// CacheOptions configure [NewCache].
type CacheOptions struct {
	// Size is the number of entries, rounded up to a power of two.
	// Default 4096.
	Size int
	// Fields are what the cached filter reads; the cache key is built from
	// them. Default: what the filter's Fields method says.
	Fields FieldSet
}

// DefaultCacheSize is the default [CacheOptions.Size].
const DefaultCacheSize = 4096

// Validate lists every problem in o.
func (o *CacheOptions) Validate() error {
	p := &semevent.OptionsError{Options: "filter.CacheOptions"}
	if o != nil {
		if o.Size < 0 || o.Size > 1<<26 {
			p.Addf("Size", "%d outside [0, 1<<26]", o.Size)
		}
		if o.Fields&^FieldsAll != 0 {
			p.Addf("Fields", "%#x holds unknown fields", uint32(o.Fields))
		}
	}
	return p.Err()
}

// Cache remembers a deterministic filter's answers, keyed by a 64-bit hash
// of the fields the filter reads. It is worth it for filters that cost more
// than hashing those fields (expr conditions on the VM, regexps, chains).
// Entries are direct-mapped and replaced on collision; two different keys
// with the same 62-bit hash share an answer, a chance of about 2^-62 per
// pair. Safe for concurrent use; Match does not allocate.
type Cache struct {
	f      Filter
	fields FieldSet
	seed   maphash.Seed
	mask   uint64
	tab    []atomic.Uint64 // hash&^3 | 2 (valid) | answer
	hits   atomic.Uint64
	misses atomic.Uint64
}

// NewCache wraps f in a result cache. It returns [ErrNotCacheable] when f
// does not declare the fields it reads and opts.Fields is zero.
func NewCache(f Filter, opts *CacheOptions) (*Cache, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o CacheOptions
	if opts != nil {
		o = *opts
	}
	if o.Fields == 0 {
		fs, ok := Fields(f)
		if !ok {
			return nil, ErrNotCacheable
		}
		o.Fields = fs
	}
	if o.Size == 0 {
		o.Size = DefaultCacheSize
	}
	size := 1 << bits.Len(uint(o.Size-1))
	return &Cache{f: f, fields: o.Fields, seed: maphash.MakeSeed(), mask: uint64(size - 1), tab: make([]atomic.Uint64, size)}, nil
}

// Match returns the cached answer for ev's key, or asks the filter and
// remembers.
func (c *Cache) Match(ev *semevent.Event) bool {
	h := c.key(ev)
	slot := &c.tab[h&c.mask]
	tag := h &^ 3
	if e := slot.Load(); e&^3 == tag && e&2 != 0 {
		c.hits.Add(1)
		return e&1 != 0
	}
	c.misses.Add(1)
	r := c.f.Match(ev)
	e := tag | 2
	if r {
		e |= 1
	}
	slot.Store(e)
	return r
}

// Fields returns the fields the cache keys by.
func (c *Cache) Fields() FieldSet { return c.fields }

// Stats returns how many Match calls were answered from the cache and how
// many asked the filter.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

func mix(h, v uint64) uint64 {
	h ^= v
	h *= 0x9E3779B97F4A7C15
	return h ^ h>>29
}

func (c *Cache) key(ev *semevent.Event) uint64 {
	s := c.fields
	h := uint64(s)
	str := func(v string) { h = mix(h, maphash.String(c.seed, v)) }
	if s&FieldKind != 0 {
		h = mix(h, uint64(ev.Kind))
	}
	if s&FieldBoundary != 0 {
		h = mix(h, uint64(ev.Boundary))
	}
	if s&FieldPriority != 0 {
		h = mix(h, uint64(ev.Priority))
	}
	if s&FieldTopic != 0 {
		str(ev.TopicOrKind())
	}
	if s&FieldTenant != 0 {
		str(ev.Tenant)
	}
	if s&FieldPath != 0 {
		str(ev.Path)
	}
	if s&FieldOldPath != 0 {
		str(ev.OldPath)
	}
	if s&FieldInode != 0 {
		h = mix(h, ev.Inode)
	}
	if s&FieldPID != 0 {
		h = mix(h, uint64(ev.PID))
	}
	if s&FieldUID != 0 {
		h = mix(h, uint64(ev.UID))
	}
	if s&FieldGID != 0 {
		h = mix(h, uint64(ev.GID))
	}
	if s&FieldOffset != 0 {
		h = mix(h, uint64(ev.Offset))
	}
	if s&FieldSize != 0 {
		h = mix(h, uint64(ev.Size))
	}
	if s&FieldTime != 0 {
		h = mix(h, uint64(ev.Time))
	}
	if s&FieldAttrs != 0 {
		h = mix(h, uint64(len(ev.Attrs)))
		for _, a := range ev.Attrs {
			str(a.Key)
			str(a.Value)
		}
	}
	if s&FieldData != 0 {
		h = mix(h, maphash.Bytes(c.seed, ev.Data))
	}
	return h
}
