package routing

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
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
	seed         uint64 // of the decision hash, random per rule set
	// globs counts the rules with a path glob. With none, no decision
	// depends on the path (conditions and content patterns are checked per
	// event), so decisions are keyed by topic alone: one hash of the
	// subject per event, and one decision per subject however many paths.
	globs int

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

// compile checks rs whole and returns it compiled, or a *RuleSetError
// listing every problem found.
func compile(rs *RuleSet, o Options, version uint64) (*compiled, error) {
	if rs == nil {
		rs = &RuleSet{}
	}
	b := newBuilder(o, version)
	b.nameGroups(rs.Groups)
	for i, g := range rs.Groups {
		b.c.groups = append(b.c.groups, b.group(i, g))
	}
	for i, r := range rs.Rules {
		cr := b.rule(i, r)
		b.c.rules = append(b.c.rules, cr)
		b.index(uint32(i), &cr)
	}
	if st, cl := matchac.Size(b.pats); st*cl > MaxContentTable {
		b.fail("rule", len(rs.Rules)-1, "", "Contains", -1, nil,
			"the %d distinct content patterns need a %d×%d automaton table, more than %d entries", len(b.pats), st, cl, MaxContentTable)
	}
	if len(b.errs) > 0 {
		return nil, &RuleSetError{Errors: b.errs}
	}
	return b.finish(), nil
}

// builder holds what compile gathers while it checks and indexes a rule
// set: the compiled set being filled, every problem found, and the indexes
// that are built at the end.
type builder struct {
	c        *compiled
	o        Options
	errs     []*RuleError
	groupIdx map[string]int // group name -> index in RuleSet.Groups
	pats     []string       // distinct content patterns, by id
	patID    map[string]int
	byPrefix map[string][]pathCand
	// Conditions are immutable and safe for concurrent use: rules with the
	// same When text share one compiled condition.
	whens map[string]compiledWhen
}

type compiledWhen struct {
	x   *filter.Expr
	err error
}

func newBuilder(o Options, version uint64) *builder {
	return &builder{
		c: &compiled{
			version: version, destIdx: map[string]int32{}, trie: &snode{}, loadFn: o.Load,
			static: roaring.New(), verify: roaring.New(), byPath: roaring.New(), byMatch: roaring.New(),
			cache: xsync.NewMapOf[string, *entry](), cacheMax: o.CacheSize,
		},
		o:        o,
		groupIdx: map[string]int{},
		patID:    map[string]int{},
		byPrefix: map[string][]pathCand{},
		whens:    map[string]compiledWhen{},
	}
}

// fail records one problem.
func (b *builder) fail(kind string, i int, name, field string, pos int, err error, format string, args ...any) {
	b.errs = append(b.errs, &RuleError{Kind: kind, Index: i, Name: name, Field: field, Pos: pos, Msg: fmt.Sprintf(format, args...), Err: err})
}

// dest returns the id of the destination name, adding it if it is new.
func (b *builder) dest(name string) int32 {
	c := b.c
	if id, ok := c.destIdx[name]; ok {
		return id
	}
	id := int32(len(c.dests))
	c.dests = append(c.dests, name)
	c.destIdx[name] = id
	return id
}

// nameGroups records every group's name, so that rules and members can
// tell a group from a destination whatever the order.
func (b *builder) nameGroups(groups []Group) {
	for i, g := range groups {
		if g.Name == "" {
			b.fail("group", i, g.Name, "Name", -1, nil, "empty name")
		} else if _, dup := b.groupIdx[g.Name]; dup {
			b.fail("group", i, g.Name, "Name", -1, nil, "duplicate group name")
		}
		b.groupIdx[g.Name] = i
	}
}

// group checks and compiles group i.
func (b *builder) group(i int, g Group) *cgroup {
	cg := &cgroup{name: g.Name, strategy: g.Strategy}
	if cg.strategy == "" {
		cg.strategy = RoundRobin
	}
	switch cg.strategy {
	case RoundRobin, Hash, LeastLoaded:
	default:
		b.fail("group", i, g.Name, "Strategy", -1, nil, "unknown strategy %q (want %q, %q or %q)", g.Strategy, RoundRobin, Hash, LeastLoaded)
	}
	cg.members = b.members(i, g)
	kf, err := keyFunc(g.Key)
	if err != nil {
		b.fail("group", i, g.Name, "Key", -1, nil, "%v", err)
	}
	if g.KeyFunc != nil {
		kf = g.KeyFunc
	}
	cg.key = kf
	if cg.strategy == Hash {
		cg.ring = b.ring(cg.members)
	}
	return cg
}

// members checks group i's members and returns their destination ids.
func (b *builder) members(i int, g Group) []int32 {
	if len(g.Members) == 0 {
		b.fail("group", i, g.Name, "Members", -1, nil, "no members")
	}
	var ids []int32
	for j, m := range g.Members {
		field := fmt.Sprintf("Members[%d]", j)
		switch {
		case m == "":
			b.fail("group", i, g.Name, field, -1, nil, "empty member name")
		case slices.Contains(g.Members[:j], m):
			b.fail("group", i, g.Name, field, -1, nil, "duplicate member %q", m)
		default:
			if _, isGroup := b.groupIdx[m]; isGroup {
				b.fail("group", i, g.Name, field, -1, nil, "member %q is a group; groups do not nest", m)
			}
			ids = append(ids, b.dest(m))
		}
	}
	return ids
}

// ring returns the consistent-hash ring of members: 64 points each.
func (b *builder) ring(members []int32) []ringPoint {
	var ring []ringPoint
	for _, m := range members {
		for v := 0; v < 64; v++ {
			ring = append(ring, ringPoint{hash: mix(fnv(b.c.dests[m] + "#" + strconv.Itoa(v))), member: m})
		}
	}
	sort.Slice(ring, func(a, c int) bool { return ring[a].hash < ring[c].hash })
	return ring
}

// rule checks and compiles rule i.
func (b *builder) rule(i int, r Rule) crule {
	fieldErr := func(field string, pos int, err error, format string, args ...any) {
		b.fail("rule", i, r.Name, field, pos, err, format, args...)
	}
	cr := crule{name: r.Name, in: inAll}
	cr.subj, cr.glob = ruleSubject(r, fieldErr), rulePath(r, fieldErr)
	for j, p := range r.Contains {
		if p == "" {
			fieldErr(fmt.Sprintf("Contains[%d]", j), -1, nil, "empty pattern")
		}
	}
	cr.pats = slices.Clone(r.Contains)
	if len(r.In) > 0 {
		cr.in = ruleIn(r.In, fieldErr)
	}
	cr.cond = b.cond(r, fieldErr)
	cr.to = b.targets(r.To, fieldErr)
	return cr
}

// fieldErrFunc records a problem with one field of the rule at hand.
type fieldErrFunc func(field string, pos int, err error, format string, args ...any)

func ruleSubject(r Rule, fieldErr fieldErrFunc) *Subject {
	if r.Subject == "" {
		return nil
	}
	s, err := ParseSubject(r.Subject)
	if err != nil {
		var se *SubjectError
		errors.As(err, &se)
		fieldErr("Subject", se.Pos, err, "%s", se.Msg)
	}
	return s
}

func rulePath(r Rule, fieldErr fieldErrFunc) *glob.Glob {
	if r.Path == "" {
		return nil
	}
	g, err := glob.Compile(r.Path)
	if err != nil {
		var ge *glob.Error
		errors.As(err, &ge)
		fieldErr("Path", ge.Pos, err, "%s", ge.Msg)
	}
	return g
}

// ruleIn returns the content fields a rule's In names.
func ruleIn(fields []string, fieldErr fieldErrFunc) uint8 {
	var in uint8
	for j, f := range fields {
		switch strings.ToLower(f) {
		case "path":
			in |= inPath
		case "attrs":
			in |= inAttrs
		case "data":
			in |= inData
		default:
			fieldErr(fmt.Sprintf("In[%d]", j), -1, nil, "unknown field %q (want path, attrs or data)", f)
		}
	}
	return in
}

// cond returns the rule's When and Filter as one filter, nil when it has
// neither.
func (b *builder) cond(r Rule, fieldErr fieldErrFunc) filter.Filter {
	var conds []filter.Filter
	if r.When != "" {
		w, ok := b.whens[r.When]
		if !ok {
			w.x, w.err = filter.Compile(r.When, nil)
			b.whens[r.When] = w
		}
		if w.err != nil {
			pos := -1
			var xe *filter.ExprError
			if errors.As(w.err, &xe) {
				pos = xe.Pos
			}
			fieldErr("When", pos, w.err, "%v", w.err)
		} else {
			conds = append(conds, w.x)
		}
	}
	if r.Filter != nil {
		conds = append(conds, &safeFilter{f: r.Filter, panics: b.o.panics})
	}
	if len(conds) == 0 {
		return nil
	}
	return filter.And(conds...)
}

// targets returns the rule's destinations and groups, each once.
func (b *builder) targets(to []string, fieldErr fieldErrFunc) []target {
	if len(to) == 0 {
		fieldErr("To", -1, nil, "no destination")
	}
	var ts []target
	for j, name := range to {
		var t target
		if name == "" {
			fieldErr(fmt.Sprintf("To[%d]", j), -1, nil, "empty destination")
			continue
		}
		if gi, ok := b.groupIdx[name]; ok {
			t = -int32(gi) - 1
		} else {
			t = b.dest(name)
		}
		if !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	return ts
}

// index files rule id under its subject and in exactly one candidate
// class: static, by path prefix, by content pattern, or checked one by one.
func (b *builder) index(id uint32, cr *crule) {
	c := b.c
	if cr.subj == nil {
		c.anySubj = append(c.anySubj, id)
	} else {
		c.trie.insert(cr.subj.tokens, id)
	}
	key, indexable := "", false
	if cr.glob != nil {
		key, _, indexable = indexPrefix(cr.glob.Prefix())
		c.globs++
	}
	switch {
	case cr.glob == nil && len(cr.pats) == 0 && cr.cond == nil:
		c.static.Add(id)
	case indexable:
		c.byPath.Add(id)
		b.byPrefix[key] = append(b.byPrefix[key], pathCand{id: id, anySubj: cr.subj == nil})
	case len(cr.pats) > 0:
		c.byMatch.Add(id)
		for _, p := range cr.pats {
			pid, ok := b.patID[p]
			if !ok {
				pid = len(b.pats)
				b.patID[p] = pid
				b.pats = append(b.pats, p)
				c.patRules = append(c.patRules, nil)
			}
			c.patRules[pid] = append(c.patRules[pid], id)
		}
	default:
		c.verify.Add(id)
	}
}

// finish builds the indexes and caches of a rule set without problems.
func (b *builder) finish() *compiled {
	c, o := b.c, b.o
	c.paths = newPathIndex(b.byPrefix)
	c.buildAny()
	c.seed = rand.Uint64()
	if !o.NoDecisionCache {
		size := max(2, 1<<bits.Len(uint(o.DecisionCacheSize-1)))
		c.decisions = make([]atomic.Pointer[decision], size)
		c.doorkeeper = make([]atomic.Uint64, size)
		c.decisionMask = uint64(size - 1)
	}
	c.ac = matchac.New(b.pats)
	c.load = make([]atomic.Int64, len(c.dests))
	return c
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
