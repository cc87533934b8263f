package automationtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
)

// TestStore is the conformance suite for automation.Store
// implementations: every field of every record type survives Append and
// Load, records load in append order (per appending goroutine, when
// appended concurrently), and Load sees every record appended before it.
// newStore must return an empty store; the fake Store and
// automation.JournalStore both pass.
func TestStore(t *testing.T, newStore func(t *testing.T) automation.Store) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		var want []*automation.Record
		for i, typ := range []automation.RecordType{automation.RecStarted, automation.RecStepDone, automation.RecStepFailed,
			automation.RecAwaitStarted, automation.RecAwaitDone, automation.RecCompensated, automation.RecCompensationFailed, automation.RecFinished} {
			r := &automation.Record{Type: typ, Time: int64(i + 1), Execution: "wf/" + fmt.Sprint(i), Workflow: "wf", Tenant: "t", Step: "par1.0/s#2",
				Seq: uint64(i * 7), Outcome: automation.Failed, Result: []byte{0, byte(i), 255}, Err: "err"}
			if typ == automation.RecStarted || typ == automation.RecAwaitDone {
				r.Event = &semevent.Event{ID: semevent.MakeID(uint64(i+1), 1, 2), Kind: semevent.KindFileWrite, Path: "/p", Tenant: "t",
					Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte("d")}
			}
			if err := s.Append(ctx, r); err != nil {
				t.Fatalf("Append(%v) = %v", typ, err)
			}
			want = append(want, r)
		}
		var got []*automation.Record
		if err := s.Load(ctx, func(r *automation.Record) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Load returned %d records, want %d", len(got), len(want))
		}
		for i := range want {
			if err := sameRecord(got[i], want[i]); err != nil {
				t.Errorf("record %d: %v", i, err)
			}
		}
	})
	t.Run("ConcurrentAppend", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		const writers, each = 4, 50
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := s.Append(ctx, &automation.Record{Type: automation.RecStepDone, Execution: fmt.Sprint(w), Seq: uint64(i)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		next := map[string]uint64{}
		n := 0
		if err := s.Load(ctx, func(r *automation.Record) error {
			n++
			if r.Seq != next[r.Execution] {
				return fmt.Errorf("writer %s: record %d after %d", r.Execution, r.Seq, next[r.Execution])
			}
			next[r.Execution]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n != writers*each {
			t.Fatalf("loaded %d records, want %d", n, writers*each)
		}
	})
	t.Run("LoadStopsOnError", func(t *testing.T) {
		s := newStore(t)
		ctx := context.Background()
		for range 3 {
			if err := s.Append(ctx, &automation.Record{Type: automation.RecFinished, Execution: "x"}); err != nil {
				t.Fatal(err)
			}
		}
		stop := errors.New("stop")
		calls := 0
		err := s.Load(ctx, func(*automation.Record) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Fatalf("Load with a failing fn = %v after %d calls, want the error after 1", err, calls)
		}
	})
}

func sameRecord(got, want *automation.Record) error {
	if got.Type != want.Type || got.Time != want.Time || got.Execution != want.Execution || got.Workflow != want.Workflow ||
		got.Tenant != want.Tenant || got.Step != want.Step || got.Seq != want.Seq || got.Outcome != want.Outcome ||
		!bytes.Equal(got.Result, want.Result) || got.Err != want.Err {
		return fmt.Errorf("got %+v, want %+v", got, want)
	}
	if (got.Event == nil) != (want.Event == nil) {
		return fmt.Errorf("event %v, want %v", got.Event, want.Event)
	}
	if got.Event != nil {
		if d := semevent.Diff(got.Event, want.Event); d != nil {
			return fmt.Errorf("event differs in %v", d)
		}
	}
	return nil
}
