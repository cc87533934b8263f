package routing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/puzpuzpuz/xsync/v3"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/internal/glob"
	"github.com/vexfs/semevent/internal/matchac"
)

// Content fields a rule's Contains looks in.
const (
	inPath uint8 = 1 << iota
	inAttrs
	inData
	inAll = inPath | inAttrs | inData
)

// A target is a destination id (≥ 0) or a group, -(index+1).
type target = int32

type crule struct {
	name string
	subj *Subject // nil: any subject
	glob *glob.Glob
	pats []string // Contains
	in   uint8
	cond filter.Filter // When and Filter, nil when neither
	to   []target
}

type cgroup struct {
	name     string
	members  []int32 // destination ids
	strategy Strategy
	key      semevent.KeyFunc
	rr       atomic.Uint64
	ring     []ringPoint
}

type ringPoint struct {
	hash   uint64
	member int32
}

// snode is a node of the subject trie.
type snode struct {
	lit  map[string]*snode
	star *snode
	end  []uint32 // rules whose pattern ends here
	gt   []uint32 // rules whose pattern continues with ">"
}

// compiled is one immutable rule set, ready to route. Only its caches and
// balancing counters change.
type compiled struct {
	version uint64
	rules   []crule
	dests   []string
	destIdx map[string]int32
	groups  []*cgroup
	load    []atomic.Int64 // per destination, for LeastLoaded without Options.Load
	loadFn  func(dest string) int64

	trie    *snode
	anySubj []uint32

	// Every rule is in exactly one class, by how candidates are found.
	static  *roaring.Bitmap // no condition beyond the subject
	verify  *roaring.Bitmap // checked one by one
	byPath  *roaring.Bitmap // found through the path prefix index
	byMatch *roaring.Bitmap // found through the content automaton

	paths    *pathIndex // literal path prefix -> rules (byPath)
	ac       *matchac.Automaton
	patRules [][]uint32 // pattern id -> rules (byMatch)

	any anyParts

	decisions    []atomic.Pointer[decision] // nil when disabled
	doorkeeper   []atomic.Uint64            // hashes of pairs seen once
	decisionMask uint64
	seed         maphash.Seed

	cache    *xsync.MapOf[string, *entry]
	cacheN   atomic.Int64
	cacheMax int
}

// MaxContentTable bounds the content automaton's transition table
// (states × byte classes, 4 bytes each): 1<<25 entries is 128 MiB.
const MaxContentTable = 1 << 25

// smallSet is how many indexed candidates an entry checks one by one
// rather than through the index.
const smallSet = 8

func compile(rs *RuleSet, o Options, version uint64) (*compiled, error) {
	if rs == nil {
		rs = &RuleSet{}
	}
	var errs []*RuleError
	fail := func(kind string, i int, name, field string, pos int, err error, format string, args ...any) {
		errs = append(errs, &RuleError{Kind: kind, Index: i, Name: name, Field: field, Pos: pos, Msg: fmt.Sprintf(format, args...), Err: err})
	}
	c := &compiled{
		version: version, destIdx: map[string]int32{}, trie: &snode{}, loadFn: o.Load,
		static: roaring.New(), verify: roaring.New(), byPath: roaring.New(), byMatch: roaring.New(),
		cache: xsync.NewMapOf[string, *entry](), cacheMax: o.CacheSize,
	}
	dest := func(name string) int32 {
		if id, ok := c.destIdx[name]; ok {
			return id
		}
		id := int32(len(c.dests))
		c.dests = append(c.dests, name)
		c.destIdx[name] = id
		return id
	}
	groupIdx := map[string]int{}
	for i, g := range rs.Groups {
		if g.Name == "" {
			fail("group", i, g.Name, "Name", -1, nil, "empty name")
		} else if _, dup := groupIdx[g.Name]; dup {
			fail("group", i, g.Name, "Name", -1, nil, "duplicate group name")
		}
		groupIdx[g.Name] = i
	}
	for i, g := range rs.Groups {
		cg := &cgroup{name: g.Name, strategy: g.Strategy}
		if cg.strategy == "" {
			cg.strategy = RoundRobin
		}
		switch cg.strategy {
		case RoundRobin, Hash, LeastLoaded:
		default:
			fail("group", i, g.Name, "Strategy", -1, nil, "unknown strategy %q (want %q, %q or %q)", g.Strategy, RoundRobin, Hash, LeastLoaded)
		}
		if len(g.Members) == 0 {
			fail("group", i, g.Name, "Members", -1, nil, "no members")
		}
		for j, m := range g.Members {
			switch {
			case m == "":
				fail("group", i, g.Name, fmt.Sprintf("Members[%d]", j), -1, nil, "empty member name")
			case slices.Contains(g.Members[:j], m):
				fail("group", i, g.Name, fmt.Sprintf("Members[%d]", j), -1, nil, "duplicate member %q", m)
			default:
				if _, isGroup := groupIdx[m]; isGroup {
					fail("group", i, g.Name, fmt.Sprintf("Members[%d]", j), -1, nil, "member %q is a group; groups do not nest", m)
				}
				cg.members = append(cg.members, dest(m))
			}
		}
		kf, err := keyFunc(g.Key)
		if err != nil {
			fail("group", i, g.Name, "Key", -1, nil, "%v", err)
		}
		if g.KeyFunc != nil {
			kf = g.KeyFunc
		}
		cg.key = kf
		if cg.strategy == Hash {
			for _, m := range cg.members {
				for v := 0; v < 64; v++ {
					cg.ring = append(cg.ring, ringPoint{hash: mix(fnv(c.dests[m] + "#" + strconv.Itoa(v))), member: m})
				}
			}
			sort.Slice(cg.ring, func(a, b int) bool { return cg.ring[a].hash < cg.ring[b].hash })
		}
		c.groups = append(c.groups, cg)
	}
	var pats []string
	patID := map[string]int{}
	byPrefix := map[string][]pathCand{}
	// Conditions are immutable and safe for concurrent use: rules with the
	// same When text share one compiled condition.
	type compiledWhen struct {
		x   *filter.Expr
		err error
	}
	whens := map[string]compiledWhen{}
	for i, r := range rs.Rules {
		cr := crule{name: r.Name, in: inAll}
		fieldErr := func(field string, pos int, err error, format string, args ...any) {
			fail("rule", i, r.Name, field, pos, err, format, args...)
		}
		if r.Subject != "" {
			s, err := ParseSubject(r.Subject)
			if err != nil {
				var se *SubjectError
				errors.As(err, &se)
				fieldErr("Subject", se.Pos, err, "%s", se.Msg)
			}
			cr.subj = s
		}
		if r.Path != "" {
			g, err := glob.Compile(r.Path)
			if err != nil {
				var ge *glob.Error
				errors.As(err, &ge)
				fieldErr("Path", ge.Pos, err, "%s", ge.Msg)
			}
			cr.glob = g
		}
		for j, p := range r.Contains {
			if p == "" {
				fieldErr(fmt.Sprintf("Contains[%d]", j), -1, nil, "empty pattern")
			}
		}
		cr.pats = slices.Clone(r.Contains)
		if len(r.In) > 0 {
			cr.in = 0
			for j, f := range r.In {
				switch strings.ToLower(f) {
				case "path":
					cr.in |= inPath
				case "attrs":
					cr.in |= inAttrs
				case "data":
					cr.in |= inData
				default:
					fieldErr(fmt.Sprintf("In[%d]", j), -1, nil, "unknown field %q (want path, attrs or data)", f)
				}
			}
		}
		var conds []filter.Filter
		if r.When != "" {
			w, ok := whens[r.When]
			if !ok {
				w.x, w.err = filter.Compile(r.When, nil)
				whens[r.When] = w
			}
			x, err := w.x, w.err
			if err != nil {
				pos := -1
				var xe *filter.ExprError
				if errors.As(err, &xe) {
					pos = xe.Pos
				}
				fieldErr("When", pos, err, "%v", err)
			} else {
				conds = append(conds, x)
			}
		}
		if r.Filter != nil {
			conds = append(conds, &safeFilter{f: r.Filter, panics: o.panics})
		}
		if len(conds) > 0 {
			cr.cond = filter.And(conds...)
		}
		if len(r.To) == 0 {
			fieldErr("To", -1, nil, "no destination")
		}
		for j, to := range r.To {
			var t target
			if to == "" {
				fieldErr(fmt.Sprintf("To[%d]", j), -1, nil, "empty destination")
				continue
			}
			if gi, ok := groupIdx[to]; ok {
				t = -int32(gi) - 1
			} else {
				t = dest(to)
			}
			if !slices.Contains(cr.to, t) {
				cr.to = append(cr.to, t)
			}
		}
		c.rules = append(c.rules, cr)
		// Index.
		id := uint32(i)
		if cr.subj == nil {
			c.anySubj = append(c.anySubj, id)
		} else {
			c.trie.insert(cr.subj.tokens, id)
		}
		key, indexable := "", false
		if cr.glob != nil {
			key, _, indexable = indexPrefix(cr.glob.Prefix())
		}
		switch {
		case cr.glob == nil && len(cr.pats) == 0 && cr.cond == nil:
			c.static.Add(id)
		case indexable:
			c.byPath.Add(id)
			byPrefix[key] = append(byPrefix[key], pathCand{id: id, anySubj: cr.subj == nil})
		case len(cr.pats) > 0:
			c.byMatch.Add(id)
			for _, p := range cr.pats {
				pid, ok := patID[p]
				if !ok {
					pid = len(pats)
					patID[p] = pid
					pats = append(pats, p)
					c.patRules = append(c.patRules, nil)
				}
				c.patRules[pid] = append(c.patRules[pid], id)
			}
		default:
			c.verify.Add(id)
		}
	}
	if st, cl := matchac.Size(pats); st*cl > MaxContentTable {
		fail("rule", len(rs.Rules)-1, "", "Contains", -1, nil,
			"the %d distinct content patterns need a %d×%d automaton table, more than %d entries", len(pats), st, cl, MaxContentTable)
	}
	if len(errs) > 0 {
		return nil, &RuleSetError{Errors: errs}
	}
	c.paths = newPathIndex(byPrefix)
	c.buildAny()
	c.seed = maphash.MakeSeed()
	if !o.NoDecisionCache {
		size := max(2, 1<<bits.Len(uint(o.DecisionCacheSize-1)))
		c.decisions = make([]atomic.Pointer[decision], size)
		c.doorkeeper = make([]atomic.Uint64, size)
		c.decisionMask = uint64(size - 1)
	}
	c.ac = matchac.New(pats)
	c.load = make([]atomic.Int64, len(c.dests))
	return c, nil
}

// safeFilter guards the dispatcher against a panicking user filter: the
// rule does not match and the panic is counted.
type safeFilter struct {
	f      filter.Filter
	panics *atomic.Uint64
}

func (s *safeFilter) Match(ev *semevent.Event) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
			if s.panics != nil {
				s.panics.Add(1)
			}
		}
	}()
	return s.f.Match(ev)
}

func (n *snode) insert(tokens []string, id uint32) {
	for i, t := range tokens {
		switch t {
		case ">":
			n.gt = append(n.gt, id)
			return
		case "*":
			if n.star == nil {
				n.star = &snode{}
			}
			n = n.star
		default:
			if n.lit == nil {
				n.lit = map[string]*snode{}
			}
			next, ok := n.lit[t]
			if !ok {
				next = &snode{}
				n.lit[t] = next
			}
			n = next
		}
		if i == len(tokens)-1 {
			n.end = append(n.end, id)
		}
	}
}

// collect adds to b the rules whose subject pattern matches the subject
// made of tokens.
func (n *snode) collect(tokens []string, b *roaring.Bitmap) {
	if len(tokens) == 0 {
		b.AddMany(n.end)
		return
	}
	b.AddMany(n.gt)
	if next, ok := n.lit[tokens[0]]; ok {
		next.collect(tokens[1:], b)
	}
	if n.star != nil {
		n.star.collect(tokens[1:], b)
	}
}

// keyFunc returns the semevent.KeyFunc a group's Key text names.
func keyFunc(key string) (semevent.KeyFunc, error) {
	switch {
	case key == "" || key == "path":
		return semevent.PathKey, nil
	case key == "tenant":
		return semevent.TenantKey, nil
	case key == "topic":
		return func(ev *semevent.Event) semevent.Key { return semevent.Key{Tenant: ev.Tenant, S: ev.TopicOrKind()} }, nil
	case key == "inode":
		return func(ev *semevent.Event) semevent.Key { return semevent.Key{Tenant: ev.Tenant, N: ev.Inode} }, nil
	case strings.HasPrefix(key, "attr:") && len(key) > 5:
		name := key[5:]
		return func(ev *semevent.Event) semevent.Key {
			v, _ := ev.Attr(name)
			return semevent.Key{Tenant: ev.Tenant, S: v}
		}, nil
	}
	return nil, fmt.Errorf("unknown key %q (want path, tenant, topic, inode or attr:NAME)", key)
}

// fnv hashes s deterministically (the same in every process, so that
// consistent hashing agrees across nodes), eight bytes at a time.
func fnv(s string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(len(s))
	for ; len(s) >= 8; s = s[8:] {
		h = (h ^ binary.LittleEndian.Uint64([]byte(s[:8]))) * 0x9E3779B97F4A7C15
		h ^= h >> 29
	}
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return mix(h)
}

func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}
