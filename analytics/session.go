package analytics

import (
	"container/heap"
	"slices"

	"github.com/vexfs/semevent"
)

// session is one open session window of a key: [start, end) where end is
// the last event's time plus the gap.
type session struct {
	key        semevent.Key
	start, end int64
	agg        *Aggregate
	fired      bool  // its current content has been emitted
	emitted    bool  // it, or a session merged into it, has been emitted: later results are updates
	armed      bool  // a timer for it at timerAt is in the heap
	timerAt    int64 // when armed: the time of its live timer; other heap entries are stale
	dead       bool  // merged into another or purged
}

type timer struct {
	at int64
	s  *session
}

type timerHeap []timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timer)) }
func (h *timerHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// armLocked makes sure a timer fires s once the watermark reaches at (or
// earlier). A timer replaced by an earlier one stays in the heap, stale,
// and is skipped when it comes up.
func (p *Processor) armLocked(s *session, at int64) {
	if !s.armed || at < s.timerAt {
		s.armed, s.timerAt = true, at
		heap.Push(&p.timers, timer{at: at, s: s})
	}
}

// addSessionLocked puts ev in its key's session, creating or merging
// sessions. An event is late when t + AllowedLateness < watermark: then
// every session it could touch has been purged.
func (p *Processor) addSessionLocked(ev *semevent.Event, t int64) {
	if p.wm != minWatermark && sat(t, p.lateness) < p.wm {
		p.lateLocked(ev)
		return
	}
	k := p.key(ev)
	ss := p.sessions[k]
	end := sat(t, p.gap)
	// Common case: one session overlaps. Sessions are disjoint and sorted,
	// so growing it keeps the order and the slice as they are.
	var one *session
	n := 0
	for _, s := range ss {
		if s.start < end && t < s.end {
			one = s
			n++
		}
	}
	if n == 1 {
		one.start = min(one.start, t)
		one.end = max(one.end, end)
		p.update(one.agg, ev)
		p.sessionChangedLocked(one)
		return
	}
	if n == 0 {
		if !p.roomLocked() {
			return
		}
		s := &session{key: k, start: t, end: end, agg: p.newAggregate()}
		p.update(s.agg, ev)
		// Keep ss sorted by start.
		i := len(ss)
		for i > 0 && ss[i-1].start > t {
			i--
		}
		p.sessions[k] = slices.Insert(ss, i, s)
		p.sessionChangedLocked(s)
		return
	}
	// Sessions overlapping [t, t+gap) form a contiguous run of ss: merge
	// them into the first.
	var hit *session
	out := ss[:0]
	for _, s := range ss {
		if s.start < end && t < s.end {
			if hit == nil {
				hit = s
				continue
			}
			_ = hit.agg.Merge(s.agg)
			hit.start = min(hit.start, s.start)
			hit.end = max(hit.end, s.end)
			hit.emitted = hit.emitted || s.emitted
			s.dead = true
			p.nkeys--
			continue
		}
		out = append(out, s)
	}
	clear(ss[len(out):])
	hit.start = min(hit.start, t)
	hit.end = max(hit.end, end)
	// Put hit back in order (its start may have moved down).
	i := len(out)
	for i > 0 && out[i-1].start > hit.start {
		i--
	}
	p.sessions[k] = slices.Insert(out, i, hit)
	p.update(hit.agg, ev)
	p.sessionChangedLocked(hit)
}

// sessionChangedLocked emits s at once if the watermark already passed
// its end — a session created, extended or merged by an allowed-late
// event — and then keeps it until its lateness expires; otherwise it
// makes sure a timer fires it at its end.
func (p *Processor) sessionChangedLocked(s *session) {
	if s.end <= p.wm {
		p.emitSessionLocked(s, false)
		p.armLocked(s, sat(s.end, p.lateness))
		return
	}
	s.fired = false
	p.armLocked(s, s.end)
}

const minWatermark = -1 << 63

// emitSessionLocked emits s: as an update when it, or a session merged
// into it, was emitted before; as partial when the watermark has not
// passed its end (Flush, Close).
func (p *Processor) emitSessionLocked(s *session, partial bool) {
	update := s.emitted
	s.fired, s.emitted = true, true
	a := s.agg
	if p.lateness > 0 && !partial { // the state outlives this result
		a = a.Clone()
	}
	p.emitLocked(Result{Name: p.o.Name, Key: s.key, Start: s.start, End: s.end, Update: update, Partial: partial, Agg: a})
}

// fireSessionsLocked runs the timers that the watermark passed: first
// firing at a session's end, purge at end + AllowedLateness.
func (p *Processor) fireSessionsLocked() {
	for len(p.timers) > 0 && p.timers[0].at <= p.wm {
		tm := heap.Pop(&p.timers).(timer)
		s := tm.s
		if s.dead || !s.armed || tm.at != s.timerAt {
			continue // stale
		}
		s.armed = false
		if !s.fired {
			if s.end > p.wm {
				p.armLocked(s, s.end)
				continue
			}
			p.emitSessionLocked(s, false)
		}
		if purge := sat(s.end, p.lateness); purge > p.wm {
			p.armLocked(s, purge)
			continue
		}
		s.dead = true
		p.nkeys--
		ss := p.sessions[s.key]
		if i := slices.Index(ss, s); i >= 0 {
			ss = slices.Delete(ss, i, i+1)
		}
		if len(ss) == 0 {
			delete(p.sessions, s.key)
		} else {
			p.sessions[s.key] = ss
		}
	}
}
