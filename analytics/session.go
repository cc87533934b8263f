package analytics

import (
	"container/heap"

	"github.com/vexfs/semevent"
)

// session is one open session window of a key: [start, end) where end is
// the last event's time plus the gap.
type session struct {
	key        string
	start, end int64
	agg        *Aggregate
	fired      bool // emitted since the last change that needs emitting
	armed      bool // a timer for it is in the heap
	dead       bool // merged into another or purged
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

func (p *Processor) armLocked(s *session, at int64) {
	if !s.armed {
		s.armed = true
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
	// Sessions overlapping [t, t+gap) form a contiguous run of ss.
	var hit *session
	out := ss[:0]
	for _, s := range ss {
		if s.start < end && t < s.end {
			if hit == nil {
				hit = s
				continue
			}
			// Merge s into hit.
			_ = hit.agg.Merge(s.agg)
			hit.start = min(hit.start, s.start)
			hit.end = max(hit.end, s.end)
			s.dead = true
			continue
		}
		out = append(out, s)
	}
	if hit == nil {
		s := &session{key: k, start: t, end: end, agg: p.newAggregate()}
		p.update(s.agg, ev)
		// Keep ss sorted by start.
		i := len(out)
		for i > 0 && out[i-1].start > t {
			i--
		}
		out = append(out, nil)
		copy(out[i+1:], out[i:])
		out[i] = s
		p.sessions[k] = out
		p.armLocked(s, end)
		return
	}
	// Put hit back in order (its start may have moved down).
	i := len(out)
	for i > 0 && out[i-1].start > hit.start {
		i--
	}
	out = append(out, nil)
	copy(out[i+1:], out[i:])
	out[i] = hit
	p.sessions[k] = out
	hit.start = min(hit.start, t)
	hit.end = max(hit.end, end)
	p.update(hit.agg, ev)
	p.sessionChangedLocked(hit)
}

// sessionChangedLocked emits s again at once if its end has passed, or
// makes sure a timer will fire it.
func (p *Processor) sessionChangedLocked(s *session) {
	if s.end <= p.wm {
		p.emitSessionLocked(s, true)
		p.armLocked(s, sat(s.end, p.lateness))
		return
	}
	s.fired = false
	p.armLocked(s, s.end)
}

const minWatermark = -1 << 63

func (p *Processor) emitSessionLocked(s *session, update bool) {
	s.fired = true
	a := s.agg
	if p.lateness > 0 { // the state outlives this result
		a = a.Clone()
	}
	if update {
		p.stats.Updates++
	}
	p.out = append(p.out, Result{Name: p.o.Name, Key: s.key, Start: s.start, End: s.end, Update: update, Watermark: p.wm, Agg: a})
}

// fireSessionsLocked runs the timers that the watermark passed: first
// firing at a session's end, purge at end + AllowedLateness.
func (p *Processor) fireSessionsLocked() {
	for len(p.timers) > 0 && p.timers[0].at <= p.wm {
		tm := heap.Pop(&p.timers).(timer)
		s := tm.s
		s.armed = false
		if s.dead {
			continue
		}
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
		ss := p.sessions[s.key]
		for i, o := range ss {
			if o == s {
				ss = append(ss[:i], ss[i+1:]...)
				break
			}
		}
		if len(ss) == 0 {
			delete(p.sessions, s.key)
		} else {
			p.sessions[s.key] = ss
		}
	}
}
