package fusebridge_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
)

// viewEvent rebuilds an event from the view's accessors alone.
func viewEvent(v *fusebridge.EventView, ev *semevent.Event) {
	*ev = semevent.Event{
		ID: v.ID(), Kind: v.Kind(), Boundary: v.Boundary(), Priority: v.Priority(), Seen: v.Seen(),
		Topic: string(v.Topic()), Tenant: string(v.Tenant()), Path: string(v.Path()), OldPath: string(v.OldPath()),
		Inode: v.Inode(), PID: v.PID(), UID: v.UID(), GID: v.GID(),
		Offset: v.Offset(), Size: v.Size(), Time: v.Time(),
		Trace: v.Trace(), Cause: v.Cause(), Data: bytes.Clone(v.Data()),
	}
	for k, val := range v.Attrs() {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: string(k), Value: string(val)})
	}
	for o := range v.Observed() {
		ev.Observed = append(ev.Observed, o)
	}
}

// TestShmViewTwoProcesses: a reader process reading views (NextView) sees
// every field of every event, inline and overflow records alike.
func TestShmViewTwoProcesses(t *testing.T) {
	ch, err := fusebridge.NewShmChannel(&fusebridge.ShmOptions{Slots: 1024, SlotSize: 256, PayloadSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close(context.Background())
	w, err := ch.Writer()
	if err != nil {
		t.Fatal(err)
	}
	cmd, out := startShmChild(t, ch, "checkview")
	const n = 5000
	for i := range n {
		if err := w.Send(shmEvent(i)); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	w.Close(context.Background())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("reader process: %v", err)
	}
	if got := string(bytes.TrimSpace(out.Bytes())); got != strconv.Itoa(n) {
		t.Fatalf("reader read %s events, want %d", got, n)
	}
}

// TestShmViewNoAllocs: reading views from the channel allocates nothing
// per event.
func TestShmViewNoAllocs(t *testing.T) {
	ch, err := fusebridge.NewShmChannel(&fusebridge.ShmOptions{Slots: 1024, SlotSize: 256, PayloadSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close(context.Background())
	w, _ := ch.Writer()
	r, _ := ch.Reader()
	ev := shmEvent(1)
	var v fusebridge.EventView
	var sink int
	allocs := testing.AllocsPerRun(200, func() {
		if err := w.Send(ev); err != nil {
			t.Fatal(err)
		}
		if err := r.NextView(&v); err != nil {
			t.Fatal(err)
		}
		sink += len(v.Path()) + int(v.Kind())
		for k := range v.Attrs() {
			sink += len(k)
		}
	})
	if allocs != 0 {
		t.Errorf("Send+NextView allocates %.1f times per event, want 0", allocs)
	}
	if sink == 0 {
		t.Error("the view read nothing")
	}
}
