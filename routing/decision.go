package routing

import (
	"hash/maphash"
	"unsafe"

	"github.com/vexfs/semevent"
)

// decision is the cached outcome of routing one (topic, path) pair: the
// targets that follow from the topic and path alone, and the rules whose
// remaining conditions (content patterns, expr conditions, filters) read
// other fields and are checked per event. Decisions are immutable.
type decision struct {
	hash     uint64
	key      string // topic + "\x00" + path, one allocation
	ntopic   int
	dests    []destRef // plain destinations, resolved
	groups   []target  // groups, resolved per event
	residual []uint32
	inline   [4]destRef // holds dests when they fit
	keyBuf   [80]byte   // holds key when it fits: one allocation, adjacent lines
}

// destRef is a resolved destination: its id and name.
type destRef struct {
	name string
	id   int32
}

// is reports whether d is the decision for topic and path.
func (d *decision) is(h uint64, topic, path string) bool {
	return d.hash == h && len(d.key) == len(topic)+1+len(path) && d.ntopic == len(topic) &&
		d.key[:len(topic)] == topic && d.key[len(topic)+1:] == path
}

func (c *compiled) decisionHash(topic, path string) uint64 {
	if path == "" {
		return mix(maphash.String(c.seed, topic))
	}
	return mix(maphash.String(c.seed, topic)*31 ^ maphash.String(c.seed, path))
}

// decide builds the decision for topic and path from the topic's entry,
// which must not use the content automaton.
func (c *compiled) decide(e *entry, h uint64, topic, path string) *decision {
	d := &decision{hash: h, ntopic: len(topic)}
	if n := len(topic) + 1 + len(path); n <= len(d.keyBuf) {
		copy(d.keyBuf[:], topic)
		copy(d.keyBuf[len(topic)+1:], path)
		d.key = unsafe.String(&d.keyBuf[0], n)
	} else {
		d.key = topic + "\x00" + path
	}
	d.dests = d.inline[:0]
	addTarget := func(t target) {
		if t < 0 {
			if !containsTarget(d.groups, t) {
				d.groups = append(d.groups, t)
			}
			return
		}
		for _, x := range d.dests {
			if x.id == t {
				return
			}
		}
		d.dests = append(d.dests, destRef{name: c.dests[t], id: t})
	}
	for _, t := range e.static {
		addTarget(t)
	}
	consider := func(id uint32) {
		r := &c.rules[id]
		if r.glob != nil && !r.glob.Match(path) {
			return
		}
		if len(r.pats) > 0 || r.cond != nil {
			d.residual = append(d.residual, id)
			return
		}
		for _, t := range r.to {
			addTarget(t)
		}
	}
	for _, id := range e.verify {
		consider(id)
	}
	if e.usePath {
		c.probePaths(path, func(pc pathCand) {
			if pc.anySubj || member(e.pathSubj, pc.id) {
				consider(pc.id)
			}
		})
	}
	return d
}

func containsTarget(ts []target, t target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// fromDecision routes by a cached decision.
func (r *router) fromDecision(d *decision) {
	for i := range d.dests {
		r.addDest(d.dests[i].id, d.dests[i].name)
	}
	for _, t := range d.groups {
		r.add(t)
	}
	for _, id := range d.residual {
		if r.c.matchRest(id, r.ev) {
			r.addRule(id)
		}
	}
}

// matchRest checks the conditions of rule id that read more than the topic
// and path.
func (c *compiled) matchRest(id uint32, ev *semevent.Event) bool {
	r := &c.rules[id]
	if len(r.pats) > 0 && !contentMatch(r, ev) {
		return false
	}
	return r.cond == nil || r.cond.Match(ev)
}
