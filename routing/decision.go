package routing

import (
	"unsafe"

	"github.com/vexfs/semevent"
)

// decision is the cached outcome of routing one (topic, path) pair: the
// destinations that follow from the topic and path alone, and the rules
// whose remaining conditions (content patterns, expr conditions, filters)
// read other fields and are checked per event. Decisions are immutable.
//
// The layout serves the common hit, a decision with at most five names
// and nothing to check per event, keyed by a topic of up to 32 bytes: the
// object is 320 bytes, a size class whose objects start on 64-byte
// boundaries; the hash, the key's length, the flags, the key and the first
// name fill the first cache line and the next four names the second. Such
// a hit reads those two lines and nothing else (TestDecisionLayout).
type decision struct {
	hash     uint64
	klen     uint16 // the key's length; longKey when the key is in long
	n        uint8  // names and ids held inline
	simple   uint8  // notSimple, or names[:n] is the whole decision (no over, groups or residual): simplePair, simpleTopic
	ntopic   uint32 // the topic's length within the key
	keyShort [32]byte

	names [inlineDests]string // the first destinations' names
	ids   [inlineDests]int32  // and their ids

	over     []destRef // destinations beyond the inline ones
	groups   []target  // groups, resolved per event
	residual []uint32  // rules whose other conditions are checked per event
	long     string    // the key when longer than keyLong

	keyLong [64]byte
}

// decision.simple: whether the names are the whole decision, and for
// the inline hit, whether the decision is keyed by topic alone.
const (
	notSimple uint8 = iota
	simplePair
	simpleTopic
)

// longKey is decision.klen for a key held in decision.long.
const longKey = 1<<16 - 1

// key returns d's key: topic + "\x00" + path, or the topic alone when the
// path is empty.
func (d *decision) key() string {
	switch n := int(d.klen); {
	case n <= len(d.keyShort):
		return unsafe.String(&d.keyShort[0], n)
	case n <= len(d.keyLong):
		return unsafe.String(&d.keyLong[0], n)
	}
	return d.long
}

// inlineDests is how many destinations a decision holds inline.
const inlineDests = 6

// destRef is a resolved destination: its id and name.
type destRef struct {
	name string
	id   int32
}

// is reports whether d is the decision for topic and path.
func (d *decision) is(h uint64, topic, path string) bool {
	if path == "" { // keyed by topic alone
		return d.hash == h && int(d.ntopic) == len(topic) && d.key() == topic
	}
	key := d.key()
	return d.hash == h && len(key) == len(topic)+1+len(path) && int(d.ntopic) == len(topic) &&
		key[:len(topic)] == topic && key[len(topic)+1:] == path
}

// isShortTopic reports whether d's key is topic and lies in the hash's
// cache line, for d keyed by topic alone (simpleTopic: the caller checks)
// and a key of at most 32 bytes: the inline hit's check. Longer keys are
// compared by is. Checking simpleTopic first means a topic made of a
// pair's key bytes ("topic\x00path") never takes the pair's decision
// (TestTopicKeyNotConfusedWithPairKey); is checks ntopic for the same.
func (d *decision) isShortTopic(topic string) bool {
	return int(d.klen) == len(topic) && strEqual(unsafe.String(&d.keyShort[0], min(len(topic), len(d.keyShort))), topic)
}

// appendNames appends the inline names of d to dst: a hit's whole work
// once d is found. The names are copied one by one rather than through
// typedslicecopy, a runtime call that costs more than the copy of six
// names.
func (d *decision) appendNames(dst []string) []string {
	n := int(d.n)
	l := len(dst)
	if cap(dst)-l < n {
		return append(dst, d.names[:n]...)
	}
	dst = dst[:l+n]
	for i, name := range d.names[:n] {
		dst[l+i] = name
	}
	return dst
}

// lookup returns the cached decision for the pair hashing to h, or nil.
// The cache is two-way set associative: a decision lives in one of the
// two slots of its set.
func (c *compiled) lookup(h uint64, topic, path string) *decision {
	set := c.decisions[h&c.decisionMask&^1:][:2]
	if d := set[0].Load(); d != nil && d.is(h, topic, path) {
		return d
	}
	if d := set[1].Load(); d != nil && d.is(h, topic, path) {
		return d
	}
	return nil
}

// store caches d in its set: in an empty slot, else over the slot the
// hash's top bit picks.
func (c *compiled) store(d *decision) {
	set := c.decisions[d.hash&c.decisionMask&^1:][:2]
	switch {
	case set[0].Load() == nil:
		set[0].Store(d)
	case set[1].Load() == nil:
		set[1].Store(d)
	default:
		set[d.hash>>63].Store(d)
	}
}

// decide builds the decision for topic and path from the topic's entry,
// which must not use the content automaton.
func (c *compiled) decide(e *entry, h uint64, topic, path string) *decision {
	d := &decision{hash: h, ntopic: uint32(len(topic))}
	n := len(topic)
	if path != "" {
		n += 1 + len(path)
	}
	var buf []byte
	switch {
	case n <= len(d.keyShort):
		buf = d.keyShort[:n]
	case n <= len(d.keyLong):
		buf = d.keyLong[:n]
	default:
		buf = make([]byte, n)
	}
	copy(buf, topic)
	if path != "" {
		buf[len(topic)] = 0
		copy(buf[len(topic)+1:], path)
	}
	if n > len(d.keyLong) {
		d.klen, d.long = longKey, unsafe.String(unsafe.SliceData(buf), n)
	} else {
		d.klen = uint16(n)
	}
	addTarget := func(t target) {
		if t < 0 {
			if !containsTarget(d.groups, t) {
				d.groups = append(d.groups, t)
			}
			return
		}
		if d.hasDest(t) {
			return
		}
		if int(d.n) < inlineDests {
			d.names[d.n], d.ids[d.n] = c.dests[t], t
			d.n++
			return
		}
		d.over = append(d.over, destRef{name: c.dests[t], id: t})
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
	switch {
	case len(d.over) > 0 || len(d.groups) > 0 || len(d.residual) > 0:
		d.simple = notSimple
	case path == "":
		d.simple = simpleTopic
	default:
		d.simple = simplePair
	}
	return d
}

// hasDest reports whether destination t is already in d.
func (d *decision) hasDest(t target) bool {
	for _, x := range d.ids[:d.n] {
		if x == t {
			return true
		}
	}
	for _, x := range d.over {
		if x.id == t {
			return true
		}
	}
	return false
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
	for i := range d.n {
		r.addDest(d.ids[i], d.names[i])
	}
	for i := range d.over {
		r.addDest(d.over[i].id, d.over[i].name)
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
