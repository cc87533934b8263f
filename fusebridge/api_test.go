package fusebridge_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// slowPublisher records every event it accepts, taking delay for each: a
// slow bus that makes the bridge's queue hold a backlog.
type slowPublisher struct {
	delay time.Duration
	mu    sync.Mutex // guards n
	n     int
}

func (p *slowPublisher) Publish(ctx context.Context, ev *semevent.Event) error {
	time.Sleep(p.delay)
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return nil
}

func (p *slowPublisher) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// mountBridge mounts a loopback over a new backing directory with a bridge
// publishing to p, and returns the bridge, the mountpoint and the
// backing directory. Everything is closed at the end of the test.
func mountBridge(t *testing.T, p semevent.Publisher, opts *fusebridge.Options) (*fusebridge.Bridge, string, string) {
	t.Helper()
	needFUSE(t)
	dir := t.TempDir()
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	br, err := fusebridge.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	root, err := br.NewLoopbackRoot(backing)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fusebridge.MountFS(mnt, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := semevent.CloseAll(ctx, m, br); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return br, mnt, backing
}

// TestBridgeSyncBacklog (issue 14 item 19): behind a slow publisher the
// bridge holds a backlog; Sync returns only once every event queued
// before the call has been published.
func TestBridgeSyncBacklog(t *testing.T) {
	p := &slowPublisher{delay: 200 * time.Microsecond}
	br, mnt, _ := mountBridge(t, p, &fusebridge.Options{BatchDelay: -1})
	for i := range 100 {
		if err := os.Mkdir(filepath.Join(mnt, fmt.Sprintf("d%03d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	before := br.Stats()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := br.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if got := p.count(); uint64(got) < before.Queued {
		t.Fatalf("after Sync the publisher has %d events, want at least the %d queued before it (backlog was %d)", got, before.Queued, before.Backlog)
	}
	if got := br.Stats().Ops[semevent.KindDirCreate]; got != 100 {
		t.Errorf("Stats.Ops[mkdir] = %d, want 100", got)
	}
	t.Logf("backlog at the call: %d of %d queued", before.Backlog, before.Queued)
}

// TestBridgeSyncBus (issue 14 item 19): with the bus's own Sync, the
// watcher's Sync and then the bridge's return only once subscribers have
// every folded event of the operations done so far, without closing
// anything.
func TestBridgeSyncBus(t *testing.T) {
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	if _, ok := any(r.bus).(interface{ Sync(context.Context) error }); !ok {
		t.Skip("propagation.Bus has no Sync yet: the bridge waits for its queue only")
	}
	var want []op
	for i := range 50 {
		p := fmt.Sprintf("/s%02d", i)
		if err := os.Mkdir(r.mnt+p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(r.mnt+p, r.mnt+p+"r"); err != nil {
			t.Fatal(err)
		}
		want = append(want, op{semevent.KindDirCreate, p, ""}, op{semevent.KindFileRename, p + "r", p})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.watcher.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.bridge.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	folded, _, _ := compare(t, r.got.all(), want, true)
	if folded != len(want) {
		t.Errorf("%d of %d events folded at Sync", folded, len(want))
	}
}

// TestBridgeSyncAfterClose: Sync after Close says the bridge is closed.
func TestBridgeSyncAfterClose(t *testing.T) {
	br, err := fusebridge.New(&slowPublisher{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := br.Sync(context.Background()); !errors.Is(err, semevent.ErrClosed) {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
}

// TestAuthorizedBus (issue 18 item 22): on a bus with an Authorizer, a
// bridge and a watcher publishing as a principal with the documented
// grant get their events through; without a principal every event is
// refused and counted as failed.
func TestAuthorizedBus(t *testing.T) {
	az, err := access.New(&access.Policy{Roles: []access.Role{
		{Name: "fuse-bridge", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"fs.>"}}}},
		{Name: "reader", Grants: []access.Grant{{Ops: []access.Op{access.OpSubscribe}}}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, withPrincipal := range []bool{true, false} {
		t.Run(fmt.Sprintf("principal=%v", withPrincipal), func(t *testing.T) {
			bus, err := propagation.New(&propagation.Options{Authorizer: az, Dedup: fusebridge.DedupOptions(10 * time.Second)})
			if err != nil {
				t.Fatal(err)
			}
			got := &recorder{}
			if _, err := bus.Subscribe(got, &propagation.SubscribeOptions{Principal: &access.Principal{User: "ops", Roles: []string{"reader"}}}); err != nil {
				t.Fatal(err)
			}
			var me *access.Principal
			if withPrincipal {
				me = &access.Principal{User: "semevent-fuse", Roles: []string{"fuse-bridge"}}
			}
			br, mnt, backing := mountBridge(t, bus, &fusebridge.Options{Principal: me})
			w, err := fusebridge.NewWatcher(bus, backing, &fusebridge.WatcherOptions{ServerPID: os.Getpid(), Principal: me})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(mnt, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(backing, "direct"), 0o755); err != nil { // the kernel's alone
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := w.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if err := semevent.CloseAll(ctx, w, br, bus); err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, ev := range got.all() {
				if ev.Kind == semevent.KindDirCreate {
					paths = append(paths, fmt.Sprintf("%s seen=%v", ev.Path, ev.Seen))
				}
			}
			bs, ws := br.Stats(), w.Stats()
			if withPrincipal {
				want := []string{"/d seen=kernel|fuse", "/direct seen=kernel"}
				if fmt.Sprint(paths) != fmt.Sprint(want) {
					t.Errorf("delivered mkdirs %v, want %v", paths, want)
				}
				if bs.Failed != 0 || ws.Failed != 0 {
					t.Errorf("failed publishes: bridge %d, watcher %d, want 0", bs.Failed, ws.Failed)
				}
			} else {
				if len(paths) != 0 {
					t.Errorf("delivered %v without a principal", paths)
				}
				if bs.Failed == 0 || ws.Failed == 0 {
					t.Errorf("failed publishes: bridge %d, watcher %d, want both counted", bs.Failed, ws.Failed)
				}
			}
		})
	}
}

// TestCloseAnyOrder (issue 16 item 4): the bus closed first, then the
// bridge, the watcher and the mount: nothing hangs or panics, and each
// Close is idempotent.
func TestCloseAnyOrder(t *testing.T) {
	needFUSE(t)
	dir := t.TempDir()
	backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
	for _, d := range []string{backing, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bus, err := propagation.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	br, err := fusebridge.New(bus, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := fusebridge.NewWatcher(bus, backing, nil)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := br.NewLoopbackRoot(backing)
	m, err := fusebridge.MountFS(mnt, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := bus.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "late"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := semevent.CloseAll(ctx, br, w, m); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
	if s := br.Stats(); s.Failed+s.Dropped == 0 {
		t.Errorf("events after the bus closed were neither failed nor dropped: %+v", s)
	}
}

// TestWatcherStatsMode: the watcher says which interface it uses, in
// Stats too.
func TestWatcherStatsMode(t *testing.T) {
	for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
		w, err := fusebridge.NewWatcher(&slowPublisher{}, t.TempDir(), &fusebridge.WatcherOptions{Mode: mode})
		if errors.Is(err, fusebridge.ErrUnsupported) {
			t.Logf("%v: %v", mode, err)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if s := w.Stats(); s.Mode != mode || s.Dirs != 1 {
			t.Errorf("Stats() = %+v, want Mode %v and 1 directory", s, mode)
		}
		w.Close(context.Background())
	}
}

// gatePublisher blocks every Publish until open is closed.
type gatePublisher struct {
	open chan struct{}
	slowPublisher
}

func (g *gatePublisher) Publish(ctx context.Context, ev *semevent.Event) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.slowPublisher.Publish(ctx, ev)
}

// TestWatcherOverflowCounted: an inotify queue that overflows while the
// watcher waits on a blocked bus is counted in Stats.Overflows and
// reported to OnError.
func TestWatcherOverflowCounted(t *testing.T) {
	max, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("inotify limits unknown: %v", err)
	}
	var limit int
	fmt.Sscan(string(max), &limit)
	if limit > 1<<20 {
		t.Skipf("max_queued_events is %d: too many events to make", limit)
	}
	dir := t.TempDir()
	g := &gatePublisher{open: make(chan struct{})}
	var mu sync.Mutex
	var errs []error
	w, err := fusebridge.NewWatcher(g, dir, &fusebridge.WatcherOptions{Mode: fusebridge.Inotify, OnError: func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	// Writes alternating between two files: each is one IN_MODIFY, and
	// alternating names keeps the kernel from merging them.
	var fs [2]*os.File
	for i := range fs {
		if fs[i], err = os.Create(filepath.Join(dir, fmt.Sprintf("f%d", i))); err != nil {
			t.Fatal(err)
		}
		defer fs[i].Close()
	}
	for i := range 2*limit + 100 { // the watcher may have read up to 64 KiB of them before blocking
		if _, err := fs[i%2].WriteAt([]byte{'x'}, 0); err != nil {
			t.Fatal(err)
		}
	}
	close(g.open)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Overflows != 1 || s.Mode != fusebridge.Inotify {
		t.Errorf("Stats() = %+v, want 1 overflow", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 || !errors.Is(errs[0], fusebridge.ErrOverflow) {
		t.Errorf("OnError got %v, want an error wrapping ErrOverflow", errs)
	}
}
