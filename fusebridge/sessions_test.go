package fusebridge_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
)

// The workloads of the write-session tests: they need real descriptors,
// so they run in the child process against the mount directly.
func init() {
	workloads["twohandles"] = func(f fsOps) error { return twoHandles(f.(realFS).root) }
	workloads["sharedwriters"] = func(f fsOps) error { return sharedWriters(f.(realFS).root) }
}

// twoHandles is `exec 3>>f 4>>f`: two descriptors open for appending on
// one file, 100 bytes through the first, 200 through the second, then
// both closed.
func twoHandles(root string) error {
	p := filepath.Join(root, "f")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		return err
	}
	a, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	b, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := a.Write(bytes.Repeat([]byte{'a'}, 100)); err != nil {
		return err
	}
	if _, err := b.Write(bytes.Repeat([]byte{'b'}, 200)); err != nil {
		return err
	}
	return errors.Join(a.Close(), b.Close())
}

// Shared writers: sharedWriters goroutines each open the shared file
// sharedRounds times, write sharedChunk bytes at their own offset and
// close it, concurrently.
const (
	sharedWriters0 = 8
	sharedRounds   = 5
	sharedChunk    = 512
)

func sharedWriters(root string) error {
	p := filepath.Join(root, "shared")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make(chan error, sharedWriters0)
	for w := range sharedWriters0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range sharedRounds {
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err != nil {
					errs <- err
					return
				}
				off := int64((w*sharedRounds + r) * sharedChunk)
				if _, err := f.WriteAt(bytes.Repeat([]byte{byte('a' + w)}, sharedChunk), off); err != nil {
					f.Close()
					errs <- err
					return
				}
				if err := f.Close(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// fuseSessions returns the sizes of the FUSE write summaries of path.
func fuseSessions(evs []*semevent.Event, path string) []int64 {
	var sizes []int64
	for _, ev := range evs {
		if ev.Kind == semevent.KindFileWrite && ev.Path == path && ev.Seen.Has(semevent.FUSE) {
			if v, _ := ev.Attr(fusebridge.AttrSession); v == "fuse" {
				sizes = append(sizes, ev.Size)
			}
		}
	}
	slices.Sort(sizes)
	return sizes
}

// TestWriteSessionsPerHandle (issue 14 item 18): two handles writing one
// file are two sessions, each with the bytes written through it, under
// both kernel watchers, and no kernel sighting is left over as a
// duplicate.
func TestWriteSessionsPerHandle(t *testing.T) {
	for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newRig(t, nil, &fusebridge.WatcherOptions{Mode: mode})
			pid := runWorkload(t, r, "twohandles")
			evs := r.events(t)
			if got, want := fuseSessions(evs, "/f"), []int64{100, 200}; !slices.Equal(got, want) {
				t.Errorf("write sessions of /f: sizes %v, want %v", got, want)
			}
			checkPIDs(t, evs, pid)
			checkKernelOnly(t, evs, 0)
		})
	}
}

// TestWriteSessionsConcurrentHandles (issue 14 item 18): 8 concurrent
// writers, 5 open→write→close sessions each on one shared file, report
// all 40 sessions with their sizes.
func TestWriteSessionsConcurrentHandles(t *testing.T) {
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	pid := runWorkload(t, r, "sharedwriters")
	evs := r.events(t)
	got := fuseSessions(evs, "/shared")
	want := slices.Repeat([]int64{sharedChunk}, sharedWriters0*sharedRounds)
	if !slices.Equal(got, want) {
		t.Errorf("write sessions of /shared: %d, want %d (sizes %v)", len(got), len(want), got)
	}
	t.Logf("%d of %d sessions reported", len(got), len(want))
	checkPIDs(t, evs, pid)
	checkKernelOnly(t, evs, 0)
}
