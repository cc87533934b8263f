package routing

import "github.com/vexfs/semevent/internal/glob"

// pathIndex finds the byPath rules whose glob's literal prefix is a prefix
// of an event's path, made of whole segments. One pass over the path
// hashes every prefix ending at a '/' (and the whole path); the depths that
// some rule uses are probed in an open-addressing table.
type pathIndex struct {
	depths   uint64 // bit k: some rule's prefix has k segments (1 ≤ k ≤ 63)
	maxDepth int
	slots    []pathSlot
	mask     uint64
}

type pathSlot struct {
	hash   uint64
	prefix string
	cands  []pathCand
}

// maxIndexDepth bounds the prefix depth indexed; deeper literal prefixes
// are cut to their first maxIndexDepth segments.
const maxIndexDepth = 63

const (
	pathHashInit  = 14695981039346656037
	pathHashPrime = 1099511628211
)

func newPathIndex(byPrefix map[string][]pathCand) *pathIndex {
	x := &pathIndex{}
	size := 2
	for size < 2*len(byPrefix) {
		size *= 2
	}
	x.slots = make([]pathSlot, size)
	x.mask = uint64(size - 1)
	for prefix, cands := range byPrefix {
		n := 1
		for i := 0; i < len(prefix); i++ {
			if prefix[i] == '/' {
				n++
			}
		}
		x.depths |= 1 << n
		x.maxDepth = max(x.maxDepth, n)
		h := uint64(pathHashInit)
		for i := 0; i < len(prefix); i++ {
			h = (h ^ uint64(prefix[i])) * pathHashPrime
		}
		h = mix(h)
		for i := h & x.mask; ; i = (i + 1) & x.mask {
			if x.slots[i].cands == nil {
				x.slots[i] = pathSlot{hash: h, prefix: prefix, cands: cands}
				break
			}
		}
	}
	return x
}

// indexPrefix returns the key a glob with literal prefix p of n segments
// is indexed under, and its depth; ok is false when the prefix is too
// short to index.
func indexPrefix(p string, n int) (string, int, bool) {
	if n == 0 || n == 1 && p == "" {
		return "", 0, false
	}
	if n > maxIndexDepth {
		p, _ = glob.PathPrefix(p, maxIndexDepth)
		n = maxIndexDepth
	}
	return p, n, true
}

func (x *pathIndex) lookup(h uint64, prefix string) []pathCand {
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		s := &x.slots[i]
		if s.cands == nil {
			return nil
		}
		if s.hash == h && s.prefix == prefix {
			return s.cands
		}
	}
}

// probe calls fn with the candidates of every indexed prefix of path.
func (x *pathIndex) probe(path string, fn func(pc pathCand)) {
	if x.depths == 0 {
		return
	}
	h := uint64(pathHashInit)
	k := 1
	for i := 0; ; i++ {
		if i == len(path) || path[i] == '/' {
			if x.depths&(1<<k) != 0 {
				for _, pc := range x.lookup(mix(h), path[:i]) {
					fn(pc)
				}
			}
			if k >= x.maxDepth || i == len(path) {
				return
			}
			k++
		}
		h = (h ^ uint64(path[i])) * pathHashPrime
	}
}
