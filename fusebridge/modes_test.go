package fusebridge_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// TestWatcherModesAgree (issue 16 item 8): fanotify and inotify, which
// share one translation path, report the same events for the same
// operations on a real directory tree, including moves into and out of
// the tree, directory renames, and writes in a renamed directory.
func TestWatcherModesAgree(t *testing.T) {
	want := []string{
		"mkdir /d",
		"create /d/f",
		"write /d/f",
		"create /d/g",
		"rename /d/f -> /d/h",
		"rename /d -> /e",
		"write /e/g",
		"create /in",   // moved in from outside
		"mkdir /indir", // a directory moved in, then written in
		"create /indir/x",
		"write /indir/x",
		"delete /e/h", // moved out
		"rmdir /indir2",
		"delete /e/g",
	}
	for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
		t.Run(mode.String(), func(t *testing.T) {
			base := t.TempDir()
			root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
			for _, d := range []string{root, outside, filepath.Join(outside, "indir")} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			bus := propagationtest.New()
			var got []string
			bus.Subscribe(semevent.HandlerFunc(func(_ context.Context, ev *semevent.Event) error {
				s := ev.Kind.String() + " " + ev.Path
				if ev.OldPath != "" {
					s = ev.Kind.String() + " " + ev.OldPath + " -> " + ev.Path
				}
				got = append(got, s)
				return nil
			}), nil)
			w, err := fusebridge.NewWatcher(bus, root, &fusebridge.WatcherOptions{Mode: mode})
			if errors.Is(err, fusebridge.ErrUnsupported) {
				t.Skipf("%v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			defer w.Close(ctx)
			do := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				// One operation at a time: unread events of one object
				// merge in the kernel, differently in each interface.
				if err := w.Sync(ctx); err != nil {
					t.Fatal(err)
				}
			}
			in := func(p string) string { return filepath.Join(root, p) }
			do(os.Mkdir(in("d"), 0o755))
			do(os.WriteFile(in("d/f"), []byte("1"), 0o644))
			do(os.WriteFile(in("d/g"), nil, 0o644))
			do(os.Rename(in("d/f"), in("d/h")))
			do(os.Rename(in("d"), in("e")))
			do(os.WriteFile(in("e/g"), []byte("2"), 0o644))
			do(os.WriteFile(filepath.Join(outside, "in"), []byte("3"), 0o644))
			do(os.Rename(filepath.Join(outside, "in"), in("in")))
			do(os.Rename(filepath.Join(outside, "indir"), in("indir")))
			do(os.WriteFile(in("indir/x"), []byte("4"), 0o644))
			do(os.Rename(in("e/h"), filepath.Join(outside, "h")))
			do(os.Rename(in("indir"), in("indir2")))
			do(os.RemoveAll(in("indir2")))
			do(os.Remove(in("e/g")))
			// The rename of indir and the deletes inside it come in
			// between: keep the lines this test is about.
			var kept []string
			for _, s := range got {
				if s != "rename /indir -> /indir2" && s != "delete /indir2/x" {
					kept = append(kept, s)
				}
			}
			if !slices.Equal(kept, want) {
				t.Errorf("events:\n got %q\nwant %q", got, want)
			}
			if s := w.Stats(); s.Mode != mode || s.Dirs < 2 {
				t.Errorf("Stats() = %+v", s)
			}
		})
	}
}
