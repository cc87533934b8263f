package fusebridge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// The FUSE sighting and the kernel sighting of one operation share a key;
// a per-call write, which only FUSE sees, has none.
func ExampleKey() {
	fuseEv := &semevent.Event{Kind: semevent.KindFileRename, Boundary: semevent.FUSE, Path: "/b", OldPath: "/a", PID: 100}
	kernEv := &semevent.Event{Kind: semevent.KindFileRename, Boundary: semevent.Kernel, Path: "/b", OldPath: "/a", PID: 7}
	call := &semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/b", Offset: 0, Size: 4096}
	fmt.Println(fusebridge.Key(fuseEv) == fusebridge.Key(kernEv))
	fmt.Println(fusebridge.Key(call) == semevent.Key{})
	// Output:
	// true
	// true
}

// Events cross to another process through shared memory; here both ends
// are in one process.
func ExampleShmChannel() {
	ch, err := fusebridge.NewShmChannel(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ch.Close(context.Background())
	w, _ := ch.Writer()
	r, _ := ch.Reader()
	w.Send(&semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/data/a", Size: 4096})
	w.Close(context.Background())
	var ev semevent.Event
	for r.Next(&ev) == nil {
		fmt.Println(ev.Kind, ev.Boundary, ev.Path, ev.Size)
	}
	// Output:
	// write fuse /data/a 4096
}

// The inotify watcher needs no privileges; fanotify (the default where
// allowed) needs root.
func ExampleNewWatcher() {
	dir, _ := os.MkdirTemp("", "watch")
	defer os.RemoveAll(dir)
	bus := propagationtest.New()
	bus.Subscribe(semevent.HandlerFunc(func(_ context.Context, ev *semevent.Event) error {
		fmt.Println(ev.Boundary, ev.Kind, ev.Path)
		return nil
	}), nil)
	w, err := fusebridge.NewWatcher(bus, dir, &fusebridge.WatcherOptions{Mode: fusebridge.Inotify})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close(context.Background())
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hi"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.Sync(ctx)
	// Output:
	// kernel create /hello.txt
	// kernel write /hello.txt
}

// greeting is a user's own read-only node type.
type greeting struct{ fs.Inode }

func (g *greeting) OnAdd(ctx context.Context) {
	f := g.NewPersistentInode(ctx, &fs.MemRegularFile{Data: []byte("hello\n"), Attr: fuseAttr(0o644)}, fs.StableAttr{})
	g.AddChild("hello.txt", f, false)
}

// Wrap gives a custom file system the same events as the loopback: mount
// the wrapped root. (Mounting needs root and /dev/fuse.)
func ExampleBridge_Wrap() {
	bus, _ := propagation.New(nil)
	defer bus.Close(context.Background())
	bridge, _ := fusebridge.New(bus, nil)
	defer bridge.Close(context.Background())

	mnt, err := fusebridge.MountFS("/mnt/greeting", bridge.Wrap(&greeting{}), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer mnt.Close(context.Background())
	// Reading /mnt/greeting/hello.txt now publishes open, read and close
	// events with the reader's pid.
}

func fuseAttr(mode uint32) (a fuse.Attr) { a.Mode = mode; return a }
