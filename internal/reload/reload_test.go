package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness drives a Watcher tick by tick and records what it loaded and
// reported; every tick is followed by a step that waits for the watcher to
// finish checking (a second tick can only be received once the first was
// handled).
type harness struct {
	t      *testing.T
	path   string
	tick   chan time.Time
	mu     sync.Mutex
	loaded []string
	errs   []error
	w      *Watcher
}

func newHarness(t *testing.T, content string, mode os.FileMode, allowEmpty bool) (*harness, error) {
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "rules.yaml"), tick: make(chan time.Time)}
	h.write(content, mode)
	var err error
	h.w, err = Watch(context.Background(), func(_ context.Context, data []byte) error {
		if string(data) == "bad\n" {
			return errors.New("does not parse")
		}
		h.mu.Lock()
		h.loaded = append(h.loaded, string(data))
		h.mu.Unlock()
		return nil
	}, h.path, &Options{
		AllowEmpty: allowEmpty,
		Tick:       h.tick,
		OnError: func(err error) {
			h.mu.Lock()
			h.errs = append(h.errs, err)
			h.mu.Unlock()
		},
	})
	if err == nil {
		t.Cleanup(func() {
			if err := h.w.Close(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	return h, err
}

func (h *harness) write(content string, mode os.FileMode) {
	h.t.Helper()
	tmp := h.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Chmod(tmp, mode); err != nil { // WriteFile's mode is masked by umask
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.path); err != nil {
		h.t.Fatal(err)
	}
}

// step lets the watcher check the file once and waits until it has, so
// that no check is still running when the test changes the file next.
func (h *harness) step() {
	n := h.w.Stats().Checks
	h.tick <- time.Time{}
	for h.w.Stats().Checks == n {
		runtime.Gosched()
	}
}

func (h *harness) state() (loaded []string, errs []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.loaded...), append([]error(nil), h.errs...)
}

func TestWatchReloadsChanges(t *testing.T) {
	h, err := newHarness(t, "v1\n", 0o600, false)
	if err != nil {
		t.Fatal(err)
	}
	h.step()
	h.write("v2\n", 0o644)
	h.step()
	h.step()
	h.write("v2\n", 0o600) // same contents, same safety: not loaded again
	h.step()
	loaded, errs := h.state()
	if want := []string{"v1\n", "v2\n"}; len(loaded) != 2 || loaded[0] != want[0] || loaded[1] != want[1] || len(errs) != 0 {
		t.Fatalf("loaded %q, errors %v; want %q and no error", loaded, errs, want)
	}
	if s := h.w.Stats(); s.Reloads != 1 || s.Errors != 0 {
		t.Errorf("Stats() = %+v, want 1 reload", s)
	}
}

// TestWatchRefusesEmpty is issue 18 item 21b: a truncated file must not
// replace the rules by nothing.
func TestWatchRefusesEmpty(t *testing.T) {
	if _, err := newHarness(t, "", 0o600, false); !errors.Is(err, semevent.ErrEmptyFile) {
		t.Errorf("Watch of an empty file = %v, want ErrEmptyFile", err)
	}
	h, err := newHarness(t, "v1\n", 0o600, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, blank := range []string{"", " \n\t\n"} {
		h.write(blank, 0o600)
		h.step()
	}
	h.write("bad\n", 0o600)
	h.step()
	loaded, errs := h.state()
	if len(loaded) != 1 || len(errs) != 3 {
		t.Fatalf("loaded %q, errors %v; want only v1 and 3 errors", loaded, errs)
	}
	var fe *semevent.FileError
	if !errors.As(errs[0], &fe) || !errors.Is(errs[1], semevent.ErrEmptyFile) || fe.Path != h.path {
		t.Errorf("errors %v, want *FileErrors naming %s wrapping ErrEmptyFile", errs, h.path)
	}
	if s := h.w.Stats(); s.Errors != 3 || s.Reloads != 0 {
		t.Errorf("Stats() = %+v, want 3 errors", s)
	}

	allow, err := newHarness(t, "", 0o600, true)
	if err != nil {
		t.Fatalf("Watch with AllowEmpty: %v", err)
	}
	if loaded, _ := allow.state(); len(loaded) != 1 || loaded[0] != "" {
		t.Errorf("AllowEmpty loaded %q, want one empty load", loaded)
	}
}

// TestWatchRefusesUnsafe is issue 18 item 24: a file others can write is
// not loaded with the watcher's authority.
func TestWatchRefusesUnsafe(t *testing.T) {
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		if _, err := newHarness(t, "v1\n", mode, false); !errors.Is(err, semevent.ErrUnsafeFile) {
			t.Errorf("Watch of a file with mode %#o = %v, want ErrUnsafeFile", mode, err)
		}
	}
	h, err := newHarness(t, "v1\n", 0o600, false)
	if err != nil {
		t.Fatal(err)
	}
	h.write("v2\n", 0o666)
	h.step()
	if err := os.Chmod(h.path, 0o600); err != nil { // fixed: now it loads
		t.Fatal(err)
	}
	h.step()
	loaded, errs := h.state()
	if len(loaded) != 2 || loaded[1] != "v2\n" || len(errs) != 1 || !errors.Is(errs[0], semevent.ErrUnsafeFile) {
		t.Fatalf("loaded %q, errors %v; want v2 loaded after one ErrUnsafeFile", loaded, errs)
	}
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	h.write("v3\n", 0o600)
	if err := os.Chown(h.path, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	h.step()
	loaded, errs = h.state()
	if len(loaded) != 2 || len(errs) != 2 || !errors.Is(errs[1], semevent.ErrUnsafeFile) {
		t.Fatalf("file owned by uid 4242: loaded %q, errors %v; want it refused", loaded, errs)
	}
}

func TestWatchMissingFile(t *testing.T) {
	_, err := Watch(context.Background(), func(context.Context, []byte) error { return nil }, filepath.Join(t.TempDir(), "none"), nil)
	var fe *semevent.FileError
	if !errors.As(err, &fe) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Watch of a missing file = %v, want a *FileError wrapping ErrNotExist", err)
	}
}

func TestCloseIdempotentAndContext(t *testing.T) {
	h, err := newHarness(t, "v1\n", 0o600, false)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := h.w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-h.w.Done():
	default:
		t.Error("Done not closed after Close")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := Watch(ctx, func(context.Context, []byte) error { return nil }, h.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-w.Done() // the watch ends with its context
}

func TestValidate(t *testing.T) {
	err := (&Options{Interval: -1}).Validate("routing.WatchOptions")
	var oe *semevent.OptionsError
	if !errors.As(err, &oe) || oe.Options != "routing.WatchOptions" || oe.Problems[0].Field != "Interval" || !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Errorf("Validate = %v", err)
	}
}
