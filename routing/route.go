package routing

import (
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/vexfs/semevent"
)

// entry is the cached part of the routing decision for one subject: the
// targets that depend on the subject alone, and the candidates left to
// check. Entries are immutable.
type entry struct {
	static     []target
	verify     []uint32 // rules to check one by one, sorted
	usePath    bool     // probe the path index
	pathSubj   []uint32 // byPath rules with a subject pattern that matches, sorted
	useContent bool     // scan with the content automaton
	matchSubj  []uint32 // byMatch rules with a subject pattern that matches, sorted
	contentIn  uint8    // fields the content rules look in
}

// entryFor returns the cached entry for subject, building it on a miss.
func (c *compiled) entryFor(subject string) *entry {
	if e, ok := c.cache.Load(subject); ok {
		return e
	}
	e := c.build(subject)
	if c.cacheN.Add(1) > int64(c.cacheMax) {
		c.cache.Clear()
		c.cacheN.Store(1)
	}
	c.cache.Store(strings.Clone(subject), e)
	return e
}

func (c *compiled) build(subject string) *entry {
	// Rules without a subject pattern are the same for every entry and
	// were sorted out once (c.any); only the subject's own rules are
	// intersected here, so building an entry costs what the subject's
	// rules cost, not what the rule set costs.
	s := roaring.New()
	if validSubject(subject) {
		c.trie.collect(strings.Split(subject, "."), s)
	}
	a := &c.any
	e := &entry{static: slices.Clone(a.static)}
	roaring.And(s, c.static).Iterate(func(id uint32) bool {
		for _, t := range c.rules[id].to {
			if !slices.Contains(e.static, t) {
				e.static = append(e.static, t)
			}
		}
		return true
	})
	e.verify = append(slices.Clone(a.verify), roaring.And(s, c.verify).ToArray()...)
	if p := roaring.And(s, c.byPath).ToArray(); len(p)+a.nPath > 0 {
		if len(p)+a.nPath <= smallSet {
			e.verify = append(append(e.verify, a.path...), p...)
		} else {
			e.usePath, e.pathSubj = true, p
		}
	}
	if m := roaring.And(s, c.byMatch).ToArray(); len(m)+a.nMatch > 0 {
		if len(m)+a.nMatch <= smallSet {
			e.verify = append(append(e.verify, a.match...), m...)
		} else {
			e.useContent, e.matchSubj, e.contentIn = true, m, a.matchIn
			for _, id := range m {
				e.contentIn |= c.rules[id].in
			}
		}
	}
	slices.Sort(e.verify)
	return e
}

// anyParts is what the rules without a subject pattern contribute to
// every entry.
type anyParts struct {
	static  []target
	verify  []uint32
	nPath   int
	path    []uint32 // the byPath ones, kept when there are few
	nMatch  int
	match   []uint32 // the byMatch ones, kept when there are few
	matchIn uint8
}

func (c *compiled) buildAny() {
	any := roaring.BitmapOf(c.anySubj...)
	a := &c.any
	roaring.And(any, c.static).Iterate(func(id uint32) bool {
		for _, t := range c.rules[id].to {
			if !slices.Contains(a.static, t) {
				a.static = append(a.static, t)
			}
		}
		return true
	})
	a.verify = roaring.And(any, c.verify).ToArray()
	p := roaring.And(any, c.byPath)
	if a.nPath = int(p.GetCardinality()); a.nPath <= smallSet {
		a.path = p.ToArray()
	}
	m := roaring.And(any, c.byMatch)
	if a.nMatch = int(m.GetCardinality()); a.nMatch <= smallSet {
		a.match = m.ToArray()
	}
	m.Iterate(func(id uint32) bool { a.matchIn |= c.rules[id].in; return true })
}

// member reports whether id is in the sorted list ids.
func member(ids []uint32, id uint32) bool {
	if len(ids) <= 16 {
		for _, x := range ids {
			if x == id {
				return true
			}
		}
		return false
	}
	_, ok := slices.BinarySearch(ids, id)
	return ok
}

// router holds the per-call state of one routing decision.
type router struct {
	c     *compiled
	ev    *semevent.Event
	dst   []string
	start int
	seen  [16]target // groups already resolved (beyond 16, a group may resolve twice)
	nseen int
	ids   [32]int32 // destinations already appended
	nids  int
}

// route routes ev by c; a nil c (a zero Table) routes nowhere.
func (c *compiled) route(ev *semevent.Event, dst []string) []string {
	if c == nil {
		return dst
	}
	topic := ev.TopicOrKind()
	if c.decisions == nil {
		return c.routeIndexes(ev, topic, dst, nil, 0, "")
	}
	var path string // the decision's key besides the topic, when a rule has a path glob
	if c.globs != 0 {
		path = ev.Path
	}
	h := strHash(topic, c.seed) // the decision's hash: of the topic, then of the path if any
	if path != "" {
		h = strHash(path, h)
	} else if d := c.decisions[h&c.decisionMask&^1].Load(); d != nil && d.simple == simpleTopic && d.hash == h && d.isShortTopic(topic) {
		// The common hit, inline: keyed by topic alone, destinations
		// already resolved and distinct, nothing to check per event.
		return d.appendNames(dst)
	}
	d := c.lookup(h, topic, path)
	if d != nil && d.simple != notSimple {
		return d.appendNames(dst)
	}
	return c.routeIndexes(ev, topic, dst, d, h, path)
}

// routeIndexes routes ev by d, a cached decision that needs per-event
// work, or, with d nil, through the subject entry and the indexes, caching
// a decision for the pair hashing to h when the cache is on and the pair
// was seen before.
func (c *compiled) routeIndexes(ev *semevent.Event, topic string, dst []string, d *decision, h uint64, path string) []string {
	r := router{c: c, ev: ev, dst: dst, start: len(dst)}
	if d != nil {
		r.fromDecision(d)
		return r.dst
	}
	e := c.entryFor(topic)
	if c.decisions != nil && !e.useContent && c.seenBefore(h) {
		d := c.decide(e, h, topic, path)
		c.store(d)
		r.fromDecision(d)
		return r.dst
	}
	for _, t := range e.static {
		r.add(t)
	}
	for _, id := range e.verify {
		if c.match(id, ev) {
			r.addRule(id)
		}
	}
	if e.usePath {
		c.probePaths(ev.Path, func(pc pathCand) {
			if (pc.anySubj || member(e.pathSubj, pc.id)) && c.match(pc.id, ev) {
				r.addRule(pc.id)
			}
		})
	}
	if e.useContent {
		if e.contentIn&inPath != 0 {
			r.scan(e, ev.Path, inPath)
		}
		if e.contentIn&inAttrs != 0 {
			for i := range ev.Attrs {
				r.scan(e, ev.Attrs[i].Value, inAttrs)
			}
		}
		if e.contentIn&inData != 0 {
			r.scan(e, bytesString(ev.Data), inData)
		}
	}
	return r.dst
}

// seenBefore reports whether the (topic, path) pair hashing to h was
// routed recently, and remembers it: a decision is cached the second time
// a pair is seen, so that a stream of never-repeated paths routes through
// the indexes without allocating.
func (c *compiled) seenBefore(h uint64) bool {
	slot := &c.doorkeeper[h&c.decisionMask]
	if slot.Load() == h {
		return true
	}
	slot.Store(h)
	return false
}

// pathCand is a rule in the path index, with whether it has no subject
// pattern, so that rejecting it needs no look at the rule itself.
type pathCand struct {
	id      uint32
	anySubj bool
}

// probePaths calls fn with every byPath rule indexed under a prefix of
// path.
func (c *compiled) probePaths(path string, fn func(pc pathCand)) { c.paths.probe(path, fn) }

// scan runs the content automaton over text and checks the rules of e
// whose patterns occur in it.
func (r *router) scan(e *entry, text string, field uint8) {
	c := r.c
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = c.ac.Step(s, text[i])
		for _, p := range c.ac.Matches(s) {
			for _, id := range c.patRules[p] {
				if c.rules[id].in&field != 0 && (c.rules[id].subj == nil || member(e.matchSubj, id)) && c.match(id, r.ev) {
					r.addRule(id)
				}
			}
		}
	}
}

// match checks every condition of rule id except its subject.
func (c *compiled) match(id uint32, ev *semevent.Event) bool {
	r := &c.rules[id]
	if r.glob != nil && !r.glob.Match(ev.Path) {
		return false
	}
	if len(r.pats) > 0 && !contentMatch(r, ev) {
		return false
	}
	return r.cond == nil || r.cond.Match(ev)
}

func contentMatch(r *crule, ev *semevent.Event) bool {
	for _, p := range r.pats {
		if r.in&inPath != 0 && strings.Contains(ev.Path, p) {
			return true
		}
		if r.in&inAttrs != 0 {
			for i := range ev.Attrs {
				if strings.Contains(ev.Attrs[i].Value, p) {
					return true
				}
			}
		}
		if r.in&inData != 0 && strings.Contains(bytesString(ev.Data), p) {
			return true
		}
	}
	return false
}

func (r *router) addRule(id uint32) {
	for _, t := range r.c.rules[id].to {
		r.add(t)
	}
}

// add resolves target t to a destination and appends its name unless it
// is already there. A group is resolved once per decision.
func (r *router) add(t target) {
	id := t
	if t < 0 {
		for _, s := range r.seen[:r.nseen] {
			if s == t {
				return
			}
		}
		if r.nseen < len(r.seen) {
			r.seen[r.nseen] = t
			r.nseen++
		}
		id = r.c.pick(r.c.groups[-t-1], r.ev)
	}
	r.addDest(id, r.c.dests[id])
}

// addDest appends destination id, named name, unless it is already there.
func (r *router) addDest(id int32, name string) {
	for _, s := range r.ids[:r.nids] {
		if s == id {
			return
		}
	}
	if r.nids < len(r.ids) {
		r.ids[r.nids] = id
		r.nids++
	} else {
		// More distinct destinations than ids holds: compare names.
		for _, d := range r.dst[r.start:] {
			if d == name {
				return
			}
		}
	}
	r.dst = append(r.dst, name)
}
