package fusebridge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// TestDedupDefaultsFoldRealMount (issue 14 item 12): 150 operations on a
// real mount, each seen by the bridge and by the kernel watcher (50
// creates, 50 mkdirs, 50 renames), fold into 150 events with both
// sightings — with the bus's default dedup options as well as with the
// bridge's DedupOptions, in both watcher modes.
func TestDedupDefaultsFoldRealMount(t *testing.T) {
	configs := []struct {
		name  string
		dedup *propagation.DedupOptions
	}{
		{"bus defaults", &propagation.DedupOptions{}},
		{"fusebridge.DedupOptions(0)", fusebridge.DedupOptions(0)},
	}
	for _, cfg := range configs {
		for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
			t.Run(cfg.name+"/"+mode.String(), func(t *testing.T) {
				needFUSE(t)
				dir := t.TempDir()
				backing, mnt := filepath.Join(dir, "backing"), filepath.Join(dir, "mnt")
				for _, d := range []string{backing, mnt} {
					if err := os.Mkdir(d, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				bus, err := propagation.New(&propagation.Options{Dedup: cfg.dedup})
				if err != nil {
					t.Fatal(err)
				}
				got := &recorder{}
				if _, err := bus.Subscribe(got, &propagation.SubscribeOptions{Buffer: 1 << 12}); err != nil {
					t.Fatal(err)
				}
				br, err := fusebridge.New(bus, nil)
				if err != nil {
					t.Fatal(err)
				}
				w, err := fusebridge.NewWatcher(bus, backing, &fusebridge.WatcherOptions{Mode: mode, ServerPID: os.Getpid()})
				if err != nil {
					t.Fatal(err)
				}
				root, _ := br.NewLoopbackRoot(backing)
				m, err := fusebridge.MountFS(mnt, root, nil)
				if err != nil {
					t.Fatal(err)
				}
				var want []op
				for i := range 50 {
					f, d := fmt.Sprintf("/f%02d", i), fmt.Sprintf("/d%02d", i)
					fh, err := os.Create(mnt + f)
					if err != nil {
						t.Fatal(err)
					}
					fh.Close()
					if err := os.Mkdir(mnt+d, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(mnt+f, mnt+d+f); err != nil {
						t.Fatal(err)
					}
					want = append(want, op{semevent.KindFileCreate, f, ""}, op{semevent.KindDirCreate, d, ""},
						op{semevent.KindFileRename, d + f, f})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := m.Close(ctx); err != nil {
					t.Fatal(err)
				}
				if err := w.Sync(ctx); err != nil {
					t.Fatal(err)
				}
				if err := semevent.CloseAll(ctx, w, br, bus); err != nil {
					t.Fatal(err)
				}
				folded, fuseOnly, kernelOnly := compare(t, got.all(), want, true)
				if folded != len(want) {
					t.Errorf("%d of %d twins folded (%d FUSE only, %d kernel only)", folded, len(want), fuseOnly, kernelOnly)
				}
			})
		}
	}
}
