package cep

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// checkInvariants checks the engine's bookkeeping: every state a pattern
// lists is filed under its key at its position, every key in the index
// holds exactly the states that point at it (and at least one), and the
// partial counts add up. It returns the first violation.
func checkInvariants(e *Engine) error {
	c := &e.c
	refs := map[*keyEntry]int{}
	for _, p := range c.pats {
		var err error
		visit := func(pos int, st keyState) {
			if pos < 0 {
				if err == nil {
					err = fmt.Errorf("pattern %s: the holes of its state list do not add up", p.name)
				}
				return
			}
			h := st.hdr()
			switch {
			case err != nil:
			case h.e == nil:
				err = fmt.Errorf("pattern %s: listed state %d is not filed", p.name, pos)
			case h.pos != pos:
				err = fmt.Errorf("pattern %s: state at %d says %d", p.name, pos, h.pos)
			case h.e.find(p.idx) != st:
				err = fmt.Errorf("pattern %s: key %v does not hold the listed state", p.name, h.e.key)
			case c.keys.get(h.e.key) != h.e:
				err = fmt.Errorf("pattern %s: key %v is not in the index", p.name, h.e.key)
			case st.held() == 0 && !isSeq(p):
				err = fmt.Errorf("pattern %s: key %v holds an empty state", p.name, h.e.key)
			}
			refs[h.e]++
		}
		var held, n int
		switch m := p.m.(type) {
		case *relaxedSeq:
			held, n = each(&m.states, visit), m.n
		case *strictSeq:
			held, n = each(&m.states, visit), m.n
		case *countM:
			held, n = each(&m.states, visit), m.n
		case *absenceM:
			held, n = each(&m.states, visit), m.n
		case *repeatM:
			held, n = each(&m.states, visit), m.n
		}
		if err != nil {
			return err
		}
		if held != n {
			return fmt.Errorf("pattern %s: states hold %d partials, count says %d", p.name, held, n)
		}
		if l := listLen(p); l > c.maxKeys {
			return fmt.Errorf("pattern %s: %d keys, over MaxKeys %d", p.name, l, c.maxKeys)
		}
	}
	if c.keys.len() != len(refs) {
		return fmt.Errorf("index holds %d keys, states point at %d", c.keys.len(), len(refs))
	}
	for e, n := range refs {
		if e.n != n {
			return fmt.Errorf("key %v: %d slots used, %d states point at it", e.key, e.n, n)
		}
	}
	return nil
}

func isSeq(p *cpat) bool {
	switch p.m.(type) {
	case *relaxedSeq, *strictSeq:
		return true // an emptied sequence state waits for the next sweep
	}
	return false
}

func each[V interface {
	comparable
	keyState
}](l *stateList[V], fn func(int, keyState)) (held int) {
	var zero V
	holes := 0
	for i, v := range l.all {
		if v == zero {
			holes++
			continue
		}
		fn(i, v)
		held += v.held()
	}
	if holes != len(l.holes) || l.n != len(l.all)-holes {
		fn(-1, zero) // reported as a state at the wrong position
	}
	for _, h := range l.holes {
		if h >= len(l.all) || l.all[h] != zero {
			fn(-1, zero)
		}
	}
	return held
}

func listLen(p *cpat) int {
	switch m := p.m.(type) {
	case *relaxedSeq:
		return m.states.n
	case *strictSeq:
		return m.states.n
	case *countM:
		return m.states.n
	case *absenceM:
		return m.states.n
	case *repeatM:
		return m.states.n
	}
	return 0
}

// TestCEPKeyIndexInvariants runs random patterns over random streams with
// tiny MaxKeys and MaxPartialsPerKey, so that keys are evicted, states
// recycled and entries dropped and re-created all the time, and checks
// the bookkeeping after every event and every Advance.
func TestCEPKeyIndexInvariants(t *testing.T) {
	var keysEvicted, evicted uint64
	for s := range 200 {
		r := rand.New(rand.NewPCG(uint64(s), 15))
		var pats []Pattern
		for i := range 1 + r.IntN(8) {
			pats = append(pats, randSpec(r, i).pattern())
		}
		e, err := New(pats, &Options{MaxKeys: 1 + r.IntN(4), MaxPartialsPerKey: 1 + r.IntN(3), MaxFuture: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i, ev := range randStream(r, 1+r.IntN(300)) {
			if err := e.Handle(ctx, ev); err != nil {
				t.Fatal(err)
			}
			if i%17 == 0 {
				if err := e.Advance(ctx, ev.Time+int64(r.IntN(50))); err != nil {
					t.Fatal(err)
				}
			}
			if err := checkInvariants(e); err != nil {
				t.Fatalf("stream %d, event %d: %v", s, i, err)
			}
		}
		st := e.Stats()
		keysEvicted += st.KeysEvicted
		evicted += st.Evicted
		if err := e.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if p := e.Stats().Partials; p != 0 {
			t.Fatalf("stream %d: %d partials after Close", s, p)
		}
	}
	if keysEvicted == 0 || evicted == 0 {
		t.Fatalf("the streams evicted %d keys and %d partials: the caps were not exercised", keysEvicted, evicted)
	}
	t.Logf("%d keys and %d partials evicted", keysEvicted, evicted)
}
