package fusebridge_test

import (
	"context"
	"errors"
	"fmt"
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
			bus.Subscribe(lines(&got), nil)
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

// TestWatcherYoungDirectories: entries made in, or renamed into, a
// directory just created — before the watcher could watch it — are
// reported as what they were: creates and renames, never a rename as a
// delete, in both modes. (Before inotify recorded the entries it found in
// a new directory, such a rename came out as a delete of the old name.)
func TestWatcherYoungDirectories(t *testing.T) {
	const n = 200
	for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			var want []string
			for i := range n {
				if err := os.WriteFile(filepath.Join(root, fmt.Sprintf("f%03d", i)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			bus := propagationtest.New()
			var got []string
			bus.Subscribe(lines(&got), nil)
			w, err := fusebridge.NewWatcher(bus, root, &fusebridge.WatcherOptions{Mode: mode,
				Kinds: []semevent.Kind{semevent.KindFileCreate, semevent.KindFileRename, semevent.KindFileDelete, semevent.KindDirCreate, semevent.KindDirDelete}})
			if errors.Is(err, fusebridge.ErrUnsupported) {
				t.Skipf("%v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			defer w.Close(ctx)
			for i := range n {
				d, f, g := fmt.Sprintf("/d%03d", i), fmt.Sprintf("/f%03d", i), fmt.Sprintf("/d%03d/g", i)
				if err := os.Mkdir(root+d, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(root+f, root+d+f); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(root+g, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				want = append(want, "mkdir "+d, "rename "+f+" -> "+d+f, "create "+g)
			}
			if err := w.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("events differ: got %d, want %d; first differences: %s", len(got), len(want), firstDiff(got, want))
			}
		})
	}
}

// firstDiff names up to 5 entries of a not in b and of b not in a.
func firstDiff(a, b []string) string {
	return "extra [" + diffHead(a, b) + "] missing [" + diffHead(b, a) + "]"
}

// TestWatcherForgetsDeletedDirs: directories made and removed do not
// stay in the watcher's map of the tree (it held every directory that
// ever existed), in both modes.
func TestWatcherForgetsDeletedDirs(t *testing.T) {
	for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			w, err := fusebridge.NewWatcher(propagationtest.New(), root, &fusebridge.WatcherOptions{Mode: mode})
			if errors.Is(err, fusebridge.ErrUnsupported) {
				t.Skipf("%v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			defer w.Close(ctx)
			for i := range 300 {
				d := filepath.Join(root, fmt.Sprintf("tmp%03d", i))
				if err := os.MkdirAll(filepath.Join(d, "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(d); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Sync(ctx); err != nil {
				t.Fatal(err)
			}
			if s := w.Stats(); s.Dirs != 1 {
				t.Errorf("after 600 directories made and removed, %d watched, want 1 (the root)", s.Dirs)
			}
		})
	}
}

// lines returns a handler that appends each event as "kind path" or
// "kind old -> new" to *got; the synchronous fake calls it on the
// publishing goroutine.
func lines(got *[]string) semevent.Handler {
	return semevent.HandlerFunc(func(_ context.Context, ev *semevent.Event) error {
		s := ev.Kind.String() + " " + ev.Path
		if ev.OldPath != "" {
			s = ev.Kind.String() + " " + ev.OldPath + " -> " + ev.Path
		}
		*got = append(*got, s)
		return nil
	})
}
