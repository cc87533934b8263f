package cep

import "github.com/vexfs/semevent"

// partial is a partial sequence match: the start time and the IDs of the
// events matched so far.
type partial struct {
	start int64
	ids   []semevent.ID
}

// stageHits evaluates every stage once for ev.
func stageHits(stages []cstage, ev *semevent.Event, hit *[MaxStages]bool) bool {
	any := false
	for i := range stages {
		hit[i] = stages[i].match(ev)
		any = any || hit[i]
	}
	return any
}

// relaxedSeq is a followed-by Sequence.
type relaxedSeq struct {
	stages []cstage
	seqBase
}

// seqBase holds the partial matches of a Sequence per key, and what both
// contiguities do alike: no timers, a sweep of expired partials, counting
// and reset.
type seqBase struct {
	states stateList[*seqState]
	n      int // partial matches held
}

func (m *seqBase) timer(*cep, *cpat, keyState, uint64, int64) {}

func (m *seqBase) partials() int { return m.n }

func (m *seqBase) reset() { m.states.reset(); m.n = 0 }

// seqState holds one key's partial sequence matches.
type seqState struct {
	stateHdr
	parts []partial
}

func newSeqState() *seqState { return &seqState{} }

func (s *seqState) held() int { return len(s.parts) }

func (s *seqState) release(c *cep) {
	for _, pt := range s.parts {
		c.putIDs(pt.ids)
	}
	clear(s.parts)
	s.parts = s.parts[:0]
	if cap(s.parts) > 64 {
		s.parts = nil
	}
}

// sweep drops the partial matches whose window the watermark passed.
func (m *seqBase) sweep(c *cep, p *cpat, wm int64) {
	m.states.each(func(st *seqState) {
		w := 0
		for _, pt := range st.parts {
			if addSat(pt.start, p.within) < wm {
				c.putIDs(pt.ids)
				m.n--
				continue
			}
			st.parts[w] = pt
			w++
		}
		clear(st.parts[w:])
		st.parts = st.parts[:w]
		if w == 0 {
			m.states.del(c, p, st)
		}
	})
}

func (m *relaxedSeq) event(c *cep, p *cpat, r *keyRef, ev *semevent.Event, t int64) {
	var hit [MaxStages]bool
	if !stageHits(m.stages, ev, &hit) {
		return
	}
	n := len(m.stages)
	k := r.key
	st, ok := m.states.get(c, p, r)
	if ok {
		w := 0
		for _, pt := range st.parts {
			if subSat(t, pt.start) > p.within {
				c.putIDs(pt.ids)
				m.n--
				continue
			}
			if hit[len(pt.ids)] {
				pt.ids = append(pt.ids, ev.ID)
				if len(pt.ids) == n {
					c.emit(p, k, pt.ids, t, originOf(ev))
					c.putIDs(pt.ids)
					m.n--
					continue
				}
			}
			st.parts[w] = pt
			w++
		}
		clear(st.parts[w:])
		st.parts = st.parts[:w]
	}
	if hit[0] {
		if n == 1 {
			c.emit(p, k, []semevent.ID{ev.ID}, t, originOf(ev))
		} else {
			if !ok {
				var dropped int
				st, dropped = m.states.add(c, p, r, newSeqState)
				m.n -= dropped
			}
			if len(st.parts) >= c.cap {
				c.putIDs(st.parts[0].ids)
				copy(st.parts, st.parts[1:])
				st.parts = st.parts[:len(st.parts)-1]
				c.stats.Evicted++
				m.n--
			}
			ids := append(c.getIDs(n), ev.ID)
			st.parts = append(st.parts, partial{start: t, ids: ids})
			m.n++
		}
	}
	// An emptied state stays until the next sweep: keys come back, and
	// deleting and re-inserting them costs more than keeping them.
}

// strictSeq is a next-contiguity Sequence: at most one partial match per
// progress level per key.
type strictSeq struct {
	stages []cstage
	seqBase
}

func (m *strictSeq) event(c *cep, p *cpat, r *keyRef, ev *semevent.Event, t int64) {
	var hit [MaxStages]bool
	any := stageHits(m.stages, ev, &hit)
	k := r.key
	st, ok := m.states.get(c, p, r)
	if !ok && !hit[0] {
		return
	}
	n := len(m.stages)
	if ok {
		w := 0
		for _, pt := range st.parts {
			if any && hit[len(pt.ids)] && subSat(t, pt.start) <= p.within {
				pt.ids = append(pt.ids, ev.ID)
				if len(pt.ids) == n {
					c.emit(p, k, pt.ids, t, originOf(ev))
				} else {
					st.parts[w] = pt
					w++
					continue
				}
			}
			c.putIDs(pt.ids)
			m.n--
		}
		clear(st.parts[w:])
		st.parts = st.parts[:w]
	}
	if hit[0] {
		if n == 1 {
			c.emit(p, k, []semevent.ID{ev.ID}, t, originOf(ev))
		} else {
			if !ok {
				var dropped int
				st, dropped = m.states.add(c, p, r, newSeqState)
				m.n -= dropped
			}
			st.parts = append(st.parts, partial{start: t, ids: append(c.getIDs(n), ev.ID)})
			m.n++
		}
	}
	// An emptied state stays until the next sweep: keys come back, and
	// deleting and re-inserting them costs more than keeping them.
}

// ref is one buffered event.
type ref struct {
	t  int64
	id semevent.ID
}

// countM is a Count pattern; each key buffers fewer than min events.
type countM struct {
	stage  cstage
	min    int
	states stateList[*countState]
	n      int
}

type countState struct {
	stateHdr
	buf  []ref
	head int // buf[head:] are live
}

func (s *countState) held() int { return len(s.buf) - s.head }
func (s *countState) release(*cep) {
	s.buf, s.head = s.buf[:0], 0
	if cap(s.buf) > 64 {
		s.buf = nil
	}
}

func newCountState() *countState { return &countState{} }

func (m *countM) event(c *cep, p *cpat, r *keyRef, ev *semevent.Event, t int64) {
	if !m.stage.match(ev) {
		return
	}
	k := r.key
	if m.min == 1 {
		c.emit(p, k, []semevent.ID{ev.ID}, t, originOf(ev))
		return
	}
	st, ok := m.states.get(c, p, r)
	if !ok {
		var dropped int
		st, dropped = m.states.add(c, p, r, newCountState)
		m.n -= dropped
	}
	for st.head < len(st.buf) && subSat(t, st.buf[st.head].t) > p.within {
		st.head++
		m.n--
	}
	if st.head > 0 && st.head == len(st.buf) {
		st.buf, st.head = st.buf[:0], 0
	}
	st.buf = append(st.buf, ref{t, ev.ID})
	m.n++
	if len(st.buf)-st.head >= m.min {
		live := st.buf[st.head:]
		ids := c.scratch[:0]
		for _, r := range live {
			ids = append(ids, r.id)
		}
		c.scratch = ids[:0]
		c.emit(p, k, ids, t, originOf(ev))
		m.n -= len(live)
		m.states.del(c, p, st)
		return
	}
	if st.head > len(st.buf)/2 && st.head > 8 {
		n := copy(st.buf, st.buf[st.head:])
		st.buf, st.head = st.buf[:n], 0
	}
}

func (m *countM) timer(*cep, *cpat, keyState, uint64, int64) {}

func (m *countM) sweep(c *cep, p *cpat, wm int64) {
	m.states.each(func(st *countState) {
		for st.head < len(st.buf) && addSat(st.buf[st.head].t, p.within) < wm {
			st.head++
			m.n--
		}
		if st.head == len(st.buf) {
			m.states.del(c, p, st)
		}
	})
}

func (m *countM) partials() int { return m.n }

func (m *countM) reset() { m.states.reset(); m.n = 0 }

// absenceM is an Absence pattern: pending First events with timers.
type absenceM struct {
	first, then cstage
	states      stateList[*absenceState]
	n           int
}

type pending struct {
	id  semevent.ID
	seq uint64
	o   origin
}

type absenceState struct {
	stateHdr
	pend []pending
}

func (s *absenceState) held() int { return len(s.pend) }
func (s *absenceState) release(*cep) {
	clear(s.pend)
	s.pend = s.pend[:0]
	if cap(s.pend) > 64 {
		s.pend = nil
	}
}

func newAbsenceState() *absenceState { return &absenceState{} }

func (m *absenceM) event(c *cep, p *cpat, r *keyRef, ev *semevent.Event, t int64) {
	st, ok := m.states.get(c, p, r)
	if ok && m.then.match(ev) {
		m.n -= len(st.pend)
		clear(st.pend)
		st.pend = st.pend[:0]
	}
	if m.first.match(ev) {
		if !ok {
			var dropped int
			st, dropped = m.states.add(c, p, r, newAbsenceState)
			m.n -= dropped
			ok = true
		}
		if len(st.pend) >= c.cap {
			copy(st.pend, st.pend[1:])
			st.pend = st.pend[:len(st.pend)-1]
			c.stats.Evicted++
			m.n--
		}
		c.seq++
		st.pend = append(st.pend, pending{id: ev.ID, seq: c.seq, o: originOf(ev)})
		m.n++
		c.addTimer(p, addSat(t, p.within), c.seq, st)
	}
	if ok && len(st.pend) == 0 {
		m.states.del(c, p, st)
	}
}

func (m *absenceM) timer(c *cep, p *cpat, ks keyState, seq uint64, at int64) {
	// The state may have been emptied and reused for another key since:
	// the sequence number, unique to one pending First, tells.
	st := ks.(*absenceState)
	if !st.live() {
		return
	}
	for i, pd := range st.pend {
		if pd.seq == seq {
			c.emit(p, st.e.key, []semevent.ID{pd.id}, at, pd.o)
			last := len(st.pend) - 1
			copy(st.pend[i:], st.pend[i+1:])
			st.pend[last] = pending{}
			st.pend = st.pend[:last]
			m.n--
			break
		}
		if pd.seq > seq {
			break
		}
	}
	if len(st.pend) == 0 {
		m.states.del(c, p, st)
	}
}

func (m *absenceM) sweep(*cep, *cpat, int64) {}

func (m *absenceM) partials() int { return m.n }

func (m *absenceM) reset() { m.states.reset(); m.n = 0 }

// repeatM is a Repeat pattern: one open run per key.
type repeatM struct {
	stage    cstage
	min, max int
	states   stateList[*repeatState]
	n        int
}

type repeatState struct {
	stateHdr
	start, last int64
	ids         []semevent.ID
	seq         uint64
	o           origin
}

func (s *repeatState) held() int { return len(s.ids) }
func (s *repeatState) release(*cep) {
	ids := s.ids[:0]
	if cap(ids) > 64 {
		ids = nil
	}
	*s = repeatState{ids: ids}
}

func newRepeatState() *repeatState { return &repeatState{} }

func (m *repeatM) close(c *cep, p *cpat, st *repeatState) {
	if len(st.ids) >= m.min {
		c.emit(p, st.e.key, st.ids, st.last, st.o)
	}
	m.n -= len(st.ids)
	m.states.del(c, p, st)
}

func (m *repeatM) event(c *cep, p *cpat, r *keyRef, ev *semevent.Event, t int64) {
	st, ok := m.states.get(c, p, r)
	if ok && subSat(t, st.start) > p.within {
		m.close(c, p, st)
		ok = false
	}
	if !m.stage.match(ev) {
		if ok {
			m.close(c, p, st)
		}
		return
	}
	if !ok {
		var dropped int
		st, dropped = m.states.add(c, p, r, newRepeatState)
		m.n -= dropped
		c.seq++
		st.start, st.seq = t, c.seq
		c.addTimer(p, addSat(t, p.within), c.seq, st)
	}
	st.ids = append(st.ids, ev.ID)
	st.last, st.o = t, originOf(ev)
	m.n++
	if m.max > 0 && len(st.ids) == m.max {
		m.close(c, p, st)
	}
}

func (m *repeatM) timer(c *cep, p *cpat, ks keyState, seq uint64, at int64) {
	if st := ks.(*repeatState); st.live() && st.seq == seq {
		m.close(c, p, st)
	}
}

func (m *repeatM) sweep(*cep, *cpat, int64) {}

func (m *repeatM) partials() int { return m.n }

func (m *repeatM) reset() { m.states.reset(); m.n = 0 }
