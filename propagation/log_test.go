package propagation_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/logx/logxtest"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// TestLoggerHandlerPanic: a panicking handler is logged once per interval
// with structured attributes naming the subscription, the event and the
// panic (issue 17 item 3).
func TestLoggerHandlerPanic(t *testing.T) {
	rec, lg := logxtest.New(slog.LevelDebug)
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Logger: lg, Clock: clock})
	if _, err := b.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { panic("boom") }),
		&propagation.SubscribeOptions{Name: "crashy"}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, write(semevent.FUSE, 1), write(semevent.FUSE, 2), write(semevent.FUSE, 3))
	eventually(t, "three panics", func() bool { return b.Stats().Panics == 3 })
	got := rec.Find("handler panicked")
	if len(got) != 1 {
		t.Fatalf("%d \"handler panicked\" lines for 3 panics within one interval, want 1 (the first): %v", len(got), rec.Records())
	}
	r := got[0]
	if r.Level != slog.LevelError || r.Attrs["component"] != "bus" || r.Attrs["subscription"] != "crashy" ||
		r.Attrs["count"] != uint64(1) || r.Attrs["event"] == "" {
		t.Errorf("record %+v: want level ERROR, component bus, subscription crashy, count 1, an event id", r)
	}
	if err, ok := r.Attrs["err"].(error); !ok || err.Error() == "" {
		t.Errorf("err attribute %#v is not the PanicError", r.Attrs["err"])
	}
	clock.Advance(11 * time.Second)
	publishAll(t, b, write(semevent.FUSE, 4))
	eventually(t, "four panics", func() bool { return b.Stats().Panics == 4 })
	eventually(t, "the summary line", func() bool { return len(rec.Find("handler panicked")) == 2 })
	if s := rec.Find("handler panicked")[1]; s.Attrs["count"] != uint64(3) {
		t.Errorf("summary count = %v, want 3 (two held back + this one)", s.Attrs["count"])
	}
}

// TestLoggerDropsRateLimited: a subscription that drops many events logs
// its first drop and then nothing until the interval passes; the summary
// counts what was held back.
func TestLoggerDropsRateLimited(t *testing.T) {
	const buffer, extra = 8, 100
	rec, lg := logxtest.New(slog.LevelDebug)
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Logger: lg, Clock: clock})
	g := newGated()
	if _, err := b.Subscribe(g, &propagation.SubscribeOptions{Name: "slow", Buffer: buffer, Policy: propagation.DropNewest}); err != nil {
		t.Fatal(err)
	}
	publishAll(t, b, write(semevent.FUSE, 0))
	<-g.entered
	for i := int64(1); i <= extra; i++ {
		publishAll(t, b, write(semevent.FUSE, i))
	}
	eventually(t, "dispatch of every event", func() bool { return b.Stats().Matched == extra+1 })
	drops := rec.Find("subscription dropped events")
	if len(drops) != 1 {
		t.Fatalf("%d drop lines for %d drops within one interval, want 1", len(drops), extra-buffer)
	}
	if r := drops[0]; r.Level != slog.LevelWarn || r.Attrs["subscription"] != "slow" || r.Attrs["reason"] != "full" || r.Attrs["count"] != uint64(1) {
		t.Errorf("first drop line %+v", r)
	}
	clock.Advance(11 * time.Second)
	publishAll(t, b, write(semevent.FUSE, extra+1))
	eventually(t, "dispatch", func() bool { return b.Stats().Matched == extra+2 })
	drops = rec.Find("subscription dropped events")
	if len(drops) != 2 {
		t.Fatalf("%d drop lines after the interval, want 2", len(drops))
	}
	if n := drops[1].Attrs["count"]; n != uint64(extra-buffer) {
		t.Errorf("summary count = %v, want %d", n, extra-buffer)
	}
	if n := drops[1].Attrs["total"]; n != uint64(extra-buffer+1) {
		t.Errorf("summary total = %v, want %d", n, extra-buffer+1)
	}
	close(g.release)
}
