package routing

import (
	"sort"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
)

// entry is the cached part of the routing decision for one subject: the
// targets that depend on the subject alone, and the candidates left to
// check. Entries are immutable.
type entry struct {
	static    []target
	verify    []uint32
	path      *roaring.Bitmap // byPath rules matching the subject; nil if none
	pathAll   bool            // path holds every byPath rule: skip membership tests
	content   *roaring.Bitmap // byMatch rules matching the subject; nil if none
	contentIn uint8           // fields the content rules look in
	matchAll  bool
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
	s := roaring.New()
	s.AddMany(c.anySubj)
	if validSubject(subject) {
		c.trie.collect(strings.Split(subject, "."), s)
	}
	e := &entry{}
	seen := map[target]bool{}
	roaring.And(s, c.static).Iterate(func(id uint32) bool {
		for _, t := range c.rules[id].to {
			if !seen[t] {
				seen[t] = true
				e.static = append(e.static, t)
			}
		}
		return true
	})
	e.verify = roaring.And(s, c.verify).ToArray()
	if p := roaring.And(s, c.byPath); !p.IsEmpty() {
		if p.GetCardinality() <= smallSet {
			e.verify = append(e.verify, p.ToArray()...)
		} else {
			p.RunOptimize()
			e.path, e.pathAll = p, p.GetCardinality() == c.byPath.GetCardinality()
		}
	}
	if m := roaring.And(s, c.byMatch); !m.IsEmpty() {
		if m.GetCardinality() <= smallSet {
			e.verify = append(e.verify, m.ToArray()...)
		} else {
			m.RunOptimize()
			e.content, e.matchAll = m, m.GetCardinality() == c.byMatch.GetCardinality()
			m.Iterate(func(id uint32) bool { e.contentIn |= c.rules[id].in; return true })
		}
	}
	sort.Slice(e.verify, func(a, b int) bool { return e.verify[a] < e.verify[b] })
	return e
}

// router holds the per-call state of one routing decision.
type router struct {
	c     *compiled
	ev    *semevent.Event
	dst   []string
	start int
	seen  [32]target
	nseen int
}

func (c *compiled) route(ev *semevent.Event, dst []string) []string {
	e := c.entryFor(ev.TopicOrKind())
	r := router{c: c, ev: ev, dst: dst, start: len(dst)}
	for _, t := range e.static {
		r.add(t)
	}
	for _, id := range e.verify {
		if c.match(id, ev) {
			r.addRule(id)
		}
	}
	if e.path != nil {
		for _, n := range c.depths {
			p, ok := glob.PathPrefix(ev.Path, n)
			if !ok {
				break
			}
			for _, id := range c.paths[p] {
				if (e.pathAll || e.path.Contains(id)) && c.match(id, ev) {
					r.addRule(id)
				}
			}
		}
	}
	if e.content != nil {
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

// scan runs the content automaton over text and checks the rules of e
// whose patterns occur in it.
func (r *router) scan(e *entry, text string, field uint8) {
	c := r.c
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = c.ac.Step(s, text[i])
		for _, p := range c.ac.Matches(s) {
			for _, id := range c.patRules[p] {
				if c.rules[id].in&field != 0 && (e.matchAll || e.content.Contains(id)) && c.match(id, r.ev) {
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

// add resolves target t to a destination name and appends it unless it is
// already there. A group is resolved once per decision.
func (r *router) add(t target) {
	for _, s := range r.seen[:r.nseen] {
		if s == t {
			return
		}
	}
	if r.nseen < len(r.seen) {
		r.seen[r.nseen] = t
		r.nseen++
	}
	var name string
	if t >= 0 {
		name = r.c.dests[t]
	} else {
		name = r.c.dests[r.c.pick(r.c.groups[-t-1], r.ev)]
	}
	for _, d := range r.dst[r.start:] {
		if d == name {
			return
		}
	}
	r.dst = append(r.dst, name)
}
