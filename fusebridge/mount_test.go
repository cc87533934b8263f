package fusebridge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// rig is a real mount: a backing directory, a loopback mount over it with
// events, a kernel watcher on the backing directory, all publishing to one
// bus with the bridge's dedup. The window is long: the test syncs the
// watcher before closing the bus, and Close releases what still waits, so
// only a kernel watcher lagging longer than the window could split a pair.
type rig struct {
	backing, mnt string
	bus          *propagation.Bus
	bridge       *fusebridge.Bridge
	watcher      *fusebridge.Watcher
	mount        *fusebridge.Mount
	got          *recorder
	closed       bool
}

type recorder struct {
	mu  sync.Mutex
	evs []*semevent.Event
}

func (r *recorder) Handle(_ context.Context, ev *semevent.Event) error {
	c := ev.Clone()
	r.mu.Lock()
	r.evs = append(r.evs, c)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []*semevent.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.evs)
}

func needFUSE(t testing.TB) {
	t.Helper()
	if err := fusebridge.Available(); err != nil {
		t.Skipf("real FUSE mount not possible here: %v", err)
	}
}

func newRig(t testing.TB, bopts *fusebridge.Options, wopts *fusebridge.WatcherOptions) *rig {
	t.Helper()
	needFUSE(t)
	dir := t.TempDir()
	r := &rig{backing: filepath.Join(dir, "backing"), mnt: filepath.Join(dir, "mnt"), got: &recorder{}}
	for _, d := range []string{r.backing, r.mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	r.bus, err = propagation.New(&propagation.Options{Dedup: fusebridge.DedupOptions(10 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.bus.Subscribe(r.got, &propagation.SubscribeOptions{Buffer: 1 << 16}); err != nil {
		t.Fatal(err)
	}
	r.bridge, err = fusebridge.New(r.bus, bopts)
	if err != nil {
		t.Fatal(err)
	}
	if wopts != nil {
		if wopts.ServerPID == 0 {
			wopts.ServerPID = os.Getpid()
		}
		r.watcher, err = fusebridge.NewWatcher(r.bus, r.backing, wopts)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kernel watcher: %v (%s)", r.watcher.Mode(), r.watcher.Reason())
	}
	root, err := r.bridge.NewLoopbackRoot(r.backing)
	if err != nil {
		t.Fatal(err)
	}
	r.mount, err = fusebridge.MountFS(r.mnt, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close(t) })
	return r
}

// close unmounts (detaching as a last resort), stops the watcher, drains
// the bridge and the bus. Safe to call twice.
func (r *rig) close(t testing.TB) {
	if r.closed {
		return
	}
	r.closed = true
	if err := r.mount.Close(context.Background()); err != nil {
		t.Errorf("Unmount: %v", err)
		unix.Unmount(r.mnt, unix.MNT_DETACH)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if r.watcher != nil {
		if err := r.watcher.Sync(ctx); err != nil {
			t.Errorf("watcher Sync: %v", err)
		}
		r.watcher.Close(ctx)
	}
	if err := r.bridge.Close(ctx); err != nil {
		t.Errorf("bridge Close: %v", err)
	}
	if err := r.bus.Close(ctx); err != nil {
		t.Errorf("bus Close: %v", err)
	}
}

// events stops everything and returns what the subscriber got.
func (r *rig) events(t testing.TB) []*semevent.Event {
	r.close(t)
	return r.got.all()
}

// op is one expected semantic operation.
type op struct {
	kind    semevent.Kind
	path    string
	oldPath string
}

func (o op) String() string {
	if o.oldPath != "" {
		return o.kind.String() + " " + o.oldPath + "->" + o.path
	}
	return o.kind.String() + " " + o.path
}

// deduped are the kinds both boundaries report.
var deduped = []semevent.Kind{
	semevent.KindFileCreate, semevent.KindFileDelete, semevent.KindFileRename,
	semevent.KindDirCreate, semevent.KindDirDelete, semevent.KindFileWrite,
}

// compare checks that the events of the deduped kinds are exactly want
// (as a multiset), that each was seen at both boundaries when both,
// and returns the counts for the report.
func compare(t *testing.T, evs []*semevent.Event, want []op, both bool) (folded, fuseOnly, kernelOnly int) {
	t.Helper()
	var got []op
	for _, ev := range evs {
		if !slices.Contains(deduped, ev.Kind) {
			continue
		}
		if ev.Kind == semevent.KindFileWrite {
			if _, ok := ev.Attr(fusebridge.AttrSession); !ok {
				continue
			}
		}
		got = append(got, op{ev.Kind, ev.Path, ev.OldPath})
		switch {
		case ev.Seen.Has(semevent.FUSE) && ev.Seen.Has(semevent.Kernel):
			folded++
		case ev.Seen.Has(semevent.FUSE):
			fuseOnly++
		default:
			kernelOnly++
		}
	}
	key := func(o []op) []string {
		s := make([]string, len(o))
		for i := range o {
			s[i] = o[i].String()
		}
		sort.Strings(s)
		return s
	}
	g, w := key(got), key(want)
	if !slices.Equal(g, w) {
		t.Errorf("semantic events differ from ground truth:\n got %d: %s\nwant %d: %s", len(g), diffHead(g, w), len(w), diffHead(w, g))
	}
	t.Logf("ground truth %d ops; observed %d after dedup: %d folded FUSE+kernel, %d FUSE only, %d kernel only", len(want), len(got), folded, fuseOnly, kernelOnly)
	return
}

// diffHead lists up to 20 entries of a that are not in b.
func diffHead(a, b []string) string {
	bm := map[string]int{}
	for _, s := range b {
		bm[s]++
	}
	var out []string
	for _, s := range a {
		if bm[s] > 0 {
			bm[s]--
			continue
		}
		out = append(out, s)
	}
	if len(out) > 20 {
		out = append(out[:20], "…")
	}
	return strings.Join(out, "; ")
}

func TestMountSmoke(t *testing.T) {
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	f := filepath.Join(r.mnt, "a.txt")
	if err := os.WriteFile(f, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(r.mnt, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f, filepath.Join(r.mnt, "d", "b.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.mnt, "d", "b.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.mnt, "d")); err != nil {
		t.Fatal(err)
	}
	evs := r.events(t)
	for _, ev := range evs {
		t.Logf("%v %s old=%s pid=%d seen=%v attrs=%v", ev.Kind, ev.Path, ev.OldPath, ev.PID, ev.Seen, ev.Attrs)
	}
	compare(t, evs, []op{
		{semevent.KindFileCreate, "/a.txt", ""},
		{semevent.KindFileWrite, "/a.txt", ""},
		{semevent.KindDirCreate, "/d", ""},
		{semevent.KindFileRename, "/d/b.txt", "/a.txt"},
		{semevent.KindFileDelete, "/d/b.txt", ""},
		{semevent.KindDirDelete, "/d", ""},
	}, true)
	if errors.Is(nil, os.ErrClosed) {
		t.Fatal()
	}
}
