package park

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestParkerNeverMissesAWake runs the consumer protocol against producers
// that make work visible and then Wake: every item must be consumed, which
// fails (hangs until the guard) if a wake is ever lost between the
// consumer's re-check and its sleep.
func TestParkerNeverMissesAWake(t *testing.T) {
	p := New()
	var work atomic.Int64
	const producers, per = 4, 20000
	var wg sync.WaitGroup
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				work.Add(1)
				p.Wake()
			}
		}()
	}
	consumed := 0
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { // the watchdog: a lost wake would sleep forever
		select {
		case <-time.After(30 * time.Second):
			close(stop)
		case <-done:
		}
	}()
	defer close(done)
	for consumed < producers*per {
		if work.Load() > 0 {
			work.Add(-1)
			consumed++
			continue
		}
		p.Prepare()
		if work.Load() > 0 {
			p.Cancel()
			continue
		}
		p.Wait(stop, nil, nil)
		select {
		case <-stop:
			t.Fatalf("consumer slept with work pending: %d consumed", consumed)
		default:
		}
	}
	wg.Wait()
}

func TestSignalWakesEveryWaiter(t *testing.T) {
	var s Signal
	s.Broadcast() // nobody waits: a no-op
	const waiters = 8
	var wg sync.WaitGroup
	entered := make(chan struct{}, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := s.Enter()
			entered <- struct{}{}
			<-ch
			s.Leave()
		}()
	}
	for range waiters {
		<-entered
	}
	s.Broadcast()
	wg.Wait()
	if n := s.waiters.Load(); n != 0 {
		t.Fatalf("%d waiters still registered", n)
	}
}

func TestSpinnerStopsAfterLimit(t *testing.T) {
	sp := NewSpinner(time.Millisecond)
	sp.Reset()
	n := 0
	for sp.Spin() {
		n++
	}
	if n == 0 {
		t.Fatal("a 1ms spinner never spun")
	}
	sp.Reset()
	if !sp.Spin() {
		t.Fatal("Reset did not start a new spin")
	}
	off := NewSpinner(0)
	if off.Spin() {
		t.Fatal("a zero spinner spun")
	}
}

// TestSpinnerLearnsFromWaits feeds the Spinner waits longer and shorter
// than its limit: after a few long ones it parks at once (the FUSE server's
// sparse events must not keep a core busy), and short waits, seen after a
// wake, make it spin again.
func TestSpinnerLearnsFromWaits(t *testing.T) {
	sp := NewSpinner(50 * time.Microsecond)
	longWait := func() {
		sp.Reset()
		for sp.Spin() {
		}
		time.Sleep(200 * time.Microsecond) // parked; the work comes late
		sp.Found()
	}
	for range 4 {
		longWait()
	}
	if sp.Spinning() {
		t.Fatalf("after 4 waits of 200µs a 50µs spinner still spins (score %d)", sp.score)
	}
	sp.Reset()
	if sp.Spin() {
		t.Fatal("Spin polled although the score is 0")
	}
	for range 2 { // work arriving at once, seen after the (immediate) park
		sp.Reset()
		sp.Found()
	}
	if !sp.Spinning() {
		t.Fatalf("after 2 immediate waits the spinner still parks at once (score %d)", sp.score)
	}
	for range 100 {
		sp.Reset()
		sp.Found()
	}
	if sp.score != scoreMax {
		t.Fatalf("score %d after 100 hits, want the cap %d", sp.score, scoreMax)
	}
}
