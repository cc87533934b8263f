package fusebridge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// TestFUSEOps is the FUSE translation table, checked on a real mount: each
// system call on the mount yields the kind and op attribute listed, with
// the path and this process's pid.
func TestFUSEOps(t *testing.T) {
	r := newRig(t, &fusebridge.Options{Writes: fusebridge.WriteBoth}, nil)
	m := func(p string) string { return filepath.Join(r.mnt, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(m("f"), []byte("0123456789"), 0o644)) // create, write, flush, release, session
	b := make([]byte, 4)
	f, err := os.Open(m("f"))
	must(err)
	_, err = f.ReadAt(b, 2)
	must(err)
	must(f.Close())
	must(os.Truncate(m("f"), 3))
	must(os.Chmod(m("f"), 0o600))
	must(os.Chown(m("f"), 1, 1))
	must(os.Chtimes(m("f"), time.Unix(1, 0), time.Unix(2, 0)))
	must(unix.Setxattr(m("f"), "user.k", []byte("v"), 0))
	must(unix.Removexattr(m("f"), "user.k"))
	must(os.Symlink("f", m("s")))
	must(os.Link(m("f"), m("h")))
	must(unix.Mkfifo(m("p"), 0o644))
	must(os.Mkdir(m("d"), 0o755))
	must(os.Rename(m("f"), m("d/g")))
	must(os.Remove(m("d/g")))
	must(os.Remove(m("d")))
	evs := r.events(t)

	tests := []struct {
		kind semevent.Kind
		op   string
		path string
		old  string
		size int64 // -1: not checked
	}{
		{semevent.KindFileCreate, "create", "/f", "", -1},
		{semevent.KindFileWrite, "write", "/f", "", 10},
		{semevent.KindFileWrite, "release", "/f", "", 10},
		{semevent.KindFileClose, "flush", "/f", "", -1},
		{semevent.KindFileClose, "release", "/f", "", -1},
		{semevent.KindFileOpen, "open", "/f", "", -1},
		{semevent.KindFileRead, "read", "/f", "", -1},
		{semevent.KindFileTruncate, "setattr", "/f", "", 3},
		{semevent.KindFileChmod, "setattr", "/f", "", -1},
		{semevent.KindFileXattr, "setxattr", "/f", "", 1},
		{semevent.KindFileXattr, "removexattr", "/f", "", -1},
		{semevent.KindFileCreate, "symlink", "/s", "", -1},
		{semevent.KindFileCreate, "link", "/h", "", -1},
		{semevent.KindFileCreate, "mknod", "/p", "", -1},
		{semevent.KindDirCreate, "mkdir", "/d", "", -1},
		{semevent.KindFileRename, "rename", "/d/g", "/f", -1},
		{semevent.KindFileDelete, "unlink", "/d/g", "", -1},
		{semevent.KindDirDelete, "rmdir", "/d", "", -1},
	}
	for _, tt := range tests {
		found := false
		for _, ev := range evs {
			op, _ := ev.Attr(fusebridge.AttrOp)
			if ev.Kind != tt.kind || op != tt.op || ev.Path != tt.path || ev.OldPath != tt.old {
				continue
			}
			found = true
			if ev.Boundary != semevent.FUSE || int(ev.PID) != os.Getpid() {
				t.Errorf("%v/%s %s: boundary %v pid %d, want fuse %d", tt.kind, tt.op, tt.path, ev.Boundary, ev.PID, os.Getpid())
			}
			if tt.size >= 0 && ev.Size != tt.size {
				t.Errorf("%v/%s %s: Size %d, want %d", tt.kind, tt.op, tt.path, ev.Size, tt.size)
			}
			break
		}
		if !found {
			t.Errorf("no %v event with op %q at %s (old %q)", tt.kind, tt.op, tt.path, tt.old)
		}
	}
	// Chmod events say what setattr set.
	var sets []string
	for _, ev := range evs {
		if ev.Kind == semevent.KindFileChmod {
			s, _ := ev.Attr(fusebridge.AttrSet)
			sets = append(sets, s)
		}
	}
	for _, want := range []string{"mode", "owner", "times"} {
		if !strings.Contains(strings.Join(sets, ";"), want) {
			t.Errorf("chmod events set %q, want one with %q", sets, want)
		}
	}
}

// TestKernelOnlyPassesThrough: another process writing the backing
// directory directly is reported once, by the kernel, with its pid.
func TestKernelOnlyPassesThrough(t *testing.T) {
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	childShell(t, "mkdir "+r.backing+"/k")
	// File events in a directory are seen once the watcher has marked it,
	// which it does when it reads the directory's creation.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.watcher.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	childShell(t, "cd "+r.backing+" && echo hi > k/direct && mv k/direct k/moved && rm k/moved")
	evs := r.events(t)
	want := []op{
		{semevent.KindDirCreate, "/k", ""},
		{semevent.KindFileCreate, "/k/direct", ""},
		{semevent.KindFileWrite, "/k/direct", ""},
		{semevent.KindFileRename, "/k/moved", "/k/direct"},
		{semevent.KindFileDelete, "/k/moved", ""},
	}
	compare(t, evs, want, false)
	var n int
	for _, ev := range evs {
		if !isDeduped(ev) {
			continue
		}
		n++
		if ev.Seen != semevent.Boundaries(semevent.Kernel) {
			t.Errorf("%v %s seen %v, want kernel only", ev.Kind, ev.Path, ev.Seen)
		}
		if r.watcher.Mode() == fusebridge.Fanotify && ev.PID == 0 {
			t.Errorf("%v %s: no pid", ev.Kind, ev.Path)
		}
	}
}

func childShell(t *testing.T, script string) int {
	t.Helper()
	cmd := execCommand("sh", "-c", script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sh -c %q: %v: %s", script, err, out)
	}
	return cmd.Process.Pid
}

// TestContextSurvivesDedup: the delivered event is the FUSE sighting, with
// the trace context and attributes Annotate set, and records the kernel's.
func TestContextSurvivesDedup(t *testing.T) {
	tc := semevent.TraceContext{TraceID: [16]byte{1, 2, 3}, SpanID: [8]byte{4, 5}, Flags: 1}
	r := newRig(t, &fusebridge.Options{Annotate: func(ctx context.Context, ev *semevent.Event) {
		ev.Trace = tc
		ev.SetAttr("tenant-request", "r-42")
	}}, &fusebridge.WatcherOptions{})
	if err := os.Mkdir(filepath.Join(r.mnt, "traced"), 0o755); err != nil {
		t.Fatal(err)
	}
	evs := r.events(t)
	for _, ev := range evs {
		if ev.Kind != semevent.KindDirCreate {
			continue
		}
		if ev.Boundary != semevent.FUSE || ev.Trace != tc || ev.Seen != semevent.Boundaries(semevent.FUSE, semevent.Kernel) {
			t.Fatalf("mkdir: boundary %v trace %v seen %v", ev.Boundary, ev.Trace, ev.Seen)
		}
		if v, _ := ev.Attr("tenant-request"); v != "r-42" {
			t.Fatalf("attribute lost: %v", ev.Attrs)
		}
		if len(ev.Observed) != 1 || ev.Observed[0].Boundary != semevent.Kernel {
			t.Fatalf("Observed = %+v, want the kernel sighting", ev.Observed)
		}
		return
	}
	t.Fatal("no mkdir event")
}

// blockingBus is a Propagator whose Publish waits until released: a bus
// that has stopped taking events.
type blockingBus struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (b *blockingBus) Publish(ctx context.Context, ev *semevent.Event) error {
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	return nil
}
func (b *blockingBus) Subscribe(semevent.Handler, *propagation.SubscribeOptions) (propagation.Subscription, error) {
	return nil, errors.New("not supported")
}
func (b *blockingBus) Close(context.Context) error { return nil }

// TestFullQueueNeverBlocksTheFileSystem: with the bus stuck, every file
// operation still completes, and every event is either queued or counted
// as dropped or evicted.
func TestFullQueueNeverBlocksTheFileSystem(t *testing.T) {
	for _, pol := range []propagation.Policy{propagation.Block, propagation.DropNewest, propagation.DropOldest} {
		t.Run(pol.String(), func(t *testing.T) {
			needFUSE(t)
			dir := t.TempDir()
			backing, mnt := filepath.Join(dir, "b"), filepath.Join(dir, "m")
			os.Mkdir(backing, 0o755)
			os.Mkdir(mnt, 0o755)
			bus := &blockingBus{release: make(chan struct{})}
			br, err := fusebridge.New(bus, &fusebridge.Options{QueueSize: 8, Policy: pol, BlockTimeout: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			root, _ := br.NewLoopbackRoot(backing)
			mt, err := fusebridge.MountFS(mnt, root, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer mt.Close(context.Background())
			for i := range 50 {
				if err := os.Mkdir(filepath.Join(mnt, "d"+string(rune('a'+i%26))+string(rune('a'+i/26))), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := mt.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			close(bus.release)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := br.Close(ctx); err != nil {
				t.Fatal(err)
			}
			st := br.Stats()
			if st.Queued+st.Dropped+st.Evicted != 50 {
				t.Errorf("queued %d + dropped %d + evicted %d != 50 mkdirs", st.Queued, st.Dropped, st.Evicted)
			}
			if st.Published != st.Queued || uint64(bus.n) != st.Published {
				t.Errorf("published %d (bus got %d), queued %d", st.Published, bus.n, st.Queued)
			}
			if st.Dropped+st.Evicted == 0 {
				t.Errorf("nothing dropped with a stuck bus and an 8-event queue: %+v", st)
			}
		})
	}
}

// TestUnmountWithOpenFile: a file left open inside the mount does not
// leave it mounted.
func TestUnmountWithOpenFile(t *testing.T) {
	r := newRig(t, nil, nil)
	f, err := os.Create(filepath.Join(r.mnt, "held"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := r.mount.Close(context.Background()); err != nil {
		t.Fatalf("Unmount with an open file: %v", err)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), " "+r.mnt+" ") {
		t.Fatalf("%s still mounted", r.mnt)
	}
	f.Close()
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts   *fusebridge.Options
		fields []string
	}{
		{nil, nil},
		{&fusebridge.Options{}, nil},
		{&fusebridge.Options{Writes: 9, QueueSize: -1, Policy: 7, BlockTimeout: -1, Kinds: []semevent.Kind{semevent.KindRuleFired}},
			[]string{"Writes", "Kinds[0]", "QueueSize", "Policy", "BlockTimeout"}},
	}
	fields := func(err error) []string {
		var oe *semevent.OptionsError
		if !errors.As(err, &oe) {
			return nil
		}
		var f []string
		for _, p := range oe.Problems {
			f = append(f, p.Field)
		}
		return f
	}
	for _, tt := range tests {
		err := tt.opts.Validate()
		if got := fields(err); !slices.Equal(got, tt.fields) {
			t.Errorf("Validate(%+v) = %v, want problems with %v", tt.opts, err, tt.fields)
		}
	}
	werr := (&fusebridge.WatcherOptions{Mode: 9, ServerPID: -1, Kinds: []semevent.Kind{semevent.KindFileXattr}}).Validate()
	if got, want := fields(werr), []string{"Mode", "Kinds[0]", "ServerPID"}; !slices.Equal(got, want) {
		t.Errorf("WatcherOptions.Validate = %v, want problems with %v", werr, want)
	}
	if _, err := fusebridge.New(nil, nil); !errors.Is(err, fusebridge.ErrNilPublisher) {
		t.Errorf("New(nil) = %v", err)
	}
	if _, err := fusebridge.NewWatcher(nil, t.TempDir(), nil); !errors.Is(err, fusebridge.ErrNilPublisher) {
		t.Errorf("NewWatcher(nil) = %v", err)
	}
	var oe *semevent.OptionsError
	if _, err := fusebridge.New(&blockingBus{}, &fusebridge.Options{QueueSize: -1}); !errors.As(err, &oe) || !errors.Is(err, semevent.ErrInvalidOptions) ||
		oe.Options != "fusebridge.Options" || len(oe.Problems) != 1 || oe.Problems[0].Field != "QueueSize" {
		t.Errorf("New with bad options = %v, want one *semevent.OptionsError problem naming QueueSize", err)
	}
	if _, err := fusebridge.NewWatcher(&blockingBus{}, t.TempDir(), &fusebridge.WatcherOptions{Mode: 9}); !errors.As(err, &oe) || oe.Options != "fusebridge.WatcherOptions" {
		t.Errorf("NewWatcher with bad options = %v, want a *semevent.OptionsError", err)
	}
}

var _ = syscall.O_RDONLY
