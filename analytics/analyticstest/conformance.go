package analyticstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
)

// TestAnalyzer runs the conformance suite against analyzers made by newA,
// one per subtest. Every Analyzer must reject a nil event with
// semevent.ErrNilEvent, accept valid events and flushes, also
// concurrently, and, where it has the optional abilities, advance and
// count the events it handled.
func TestAnalyzer(t *testing.T, newA func(t *testing.T) analytics.Analyzer) {
	ctx := context.Background()
	t.Run("NilEvent", func(t *testing.T) {
		if err := newA(t).Handle(ctx, nil); !errors.Is(err, semevent.ErrNilEvent) {
			t.Errorf("Handle(nil) = %v, want semevent.ErrNilEvent", err)
		}
	})
	t.Run("HandleAndFlush", func(t *testing.T) {
		a := newA(t)
		for i := range 100 {
			if err := a.Handle(ctx, event(i)); err != nil {
				t.Fatalf("Handle(event %d) = %v", i, err)
			}
		}
		for range 2 {
			if err := a.Flush(ctx); err != nil {
				t.Fatalf("Flush() = %v", err)
			}
		}
		if st, ok := analytics.StatsOf(a); ok && st.Events != 100 {
			t.Errorf("Stats().Events = %d after 100 events, want 100", st.Events)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		a := newA(t)
		var wg sync.WaitGroup
		errs := make(chan error, 5)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					if err := a.Handle(ctx, event(g*1000+i)); err != nil {
						errs <- fmt.Errorf("goroutine %d: Handle: %w", g, err)
						return
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if err := a.Flush(ctx); err != nil {
					errs <- fmt.Errorf("Flush: %w", err)
					return
				}
			}
		}()
		wg.Wait()
		close(errs)
		var all []error
		for err := range errs {
			all = append(all, err)
		}
		if err := errors.Join(all...); err != nil {
			t.Error(err)
		}
	})
	t.Run("Advance", func(t *testing.T) {
		a := newA(t)
		err := analytics.Advance(ctx, a, event(10).Time)
		if _, ok := a.(analytics.Advancer); !ok {
			if !errors.Is(err, analytics.ErrUnsupported) {
				t.Errorf("Advance on a non-Advancer = %v, want ErrUnsupported", err)
			}
			return
		}
		if err != nil {
			t.Errorf("Advance() = %v", err)
		}
		if err := a.Handle(ctx, event(20)); err != nil {
			t.Errorf("Handle after Advance = %v", err)
		}
	})
}

func event(i int) *semevent.Event {
	return &semevent.Event{
		Kind: semevent.Kinds()[1+i%5],
		Path: fmt.Sprintf("/t/%d.tmp", i%7),
		Size: int64(i),
		Time: 1_700_000_000_000_000_000 + int64(i)*1_000_000,
	}
}
