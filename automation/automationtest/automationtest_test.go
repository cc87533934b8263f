package automationtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/automationtest"
)

func TestClock(t *testing.T) {
	start := time.Unix(100, 0)
	c := automationtest.NewClock(start, false)
	ch := c.After(time.Second)
	c.Advance(999 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-ch; !got.Equal(start.Add(time.Second)) {
		t.Fatalf("fired at %v", got)
	}
	auto := automationtest.NewClock(start, true)
	<-auto.After(time.Minute)
	if got := auto.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("auto clock at %v, want +1m", got)
	}
	if s := auto.Sleeps(); len(s) != 1 || s[0] != time.Minute {
		t.Fatalf("Sleeps() = %v", s)
	}
}

func TestStore(t *testing.T) {
	s := automationtest.NewStore()
	ctx := context.Background()
	r := &automation.Record{Type: automation.RecStarted, Execution: "w/1", Workflow: "w", Event: &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"}}
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	s.FailAfter(1)
	if err := s.Append(ctx, &automation.Record{Type: automation.RecFinished, Execution: "w/1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, &automation.Record{Type: automation.RecFinished, Execution: "w/2"}); !errors.Is(err, automationtest.ErrInjected) {
		t.Fatalf("Append after FailAfter(1) twice = %v, want ErrInjected", err)
	}
	recs := s.Records()
	if len(recs) != 2 || recs[0].Event.Path != "/a" || recs[1].Type != automation.RecFinished {
		t.Fatalf("Records() = %+v", recs)
	}
}

func TestPublisher(t *testing.T) {
	var p automationtest.Publisher
	ev := &semevent.Event{Path: "/a"}
	_ = p.Publish(context.Background(), ev)
	ev.Path = "/changed"
	if got := p.Take(); len(got) != 1 || got[0].Path != "/a" {
		t.Fatalf("Take() = %v", got)
	}
	if len(p.Events()) != 0 {
		t.Fatal("Take did not forget")
	}
}

func TestStoreConformance(t *testing.T) {
	automationtest.TestStore(t, func(*testing.T) automation.Store { return automationtest.NewStore() })
}
