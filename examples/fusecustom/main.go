// Fusecustom shows how a FUSE server with its own go-fuse node types gets
// semantic events: wrap the root with bridge.Wrap and mount the result.
// Every node beneath it is wrapped too, and keeps its behaviour.
//
// The file system here is a small in-memory one (a directory of notes);
// every open, read, write and close prints as an event with the caller's
// pid.
//
//	sudo go run ./examples/fusecustom -mount /tmp/notes
//	# in another shell: cat /tmp/notes/todo.txt; echo milk >> /tmp/notes/todo.txt
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// notes is the user's own root node: it builds its tree in OnAdd.
type notes struct{ fs.Inode }

func (n *notes) OnAdd(ctx context.Context) {
	for name, text := range map[string]string{"todo.txt": "eggs\n", "ideas.txt": "a FUSE server with events\n"} {
		f := n.NewPersistentInode(ctx, &fs.MemRegularFile{Data: []byte(text), Attr: fuse.Attr{Mode: 0o644}}, fs.StableAttr{})
		n.AddChild(name, f, false)
	}
}

func main() {
	mount := flag.String("mount", "", "mountpoint, an existing empty directory (required)")
	flag.Parse()
	if *mount == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *mount, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "fusecustom:", err)
		os.Exit(1)
	}
}

// run serves the notes at mountpoint until ctx ends, printing events to
// out; ready, when set, is called once the mount serves.
func run(ctx context.Context, mountpoint string, out io.Writer, ready func()) error {
	bus, err := propagation.New(nil)
	if err != nil {
		return err
	}
	bus.Subscribe(semevent.HandlerFunc(func(_ context.Context, ev *semevent.Event) error {
		op, _ := ev.Attr(fusebridge.AttrOp)
		fmt.Fprintf(out, "%-6s %-8s %s pid=%d size=%d\n", ev.Kind, op, ev.Path, ev.PID, ev.Size)
		return nil
	}), nil)
	bridge, err := fusebridge.New(bus, nil)
	if err != nil {
		return err
	}
	// The one line a custom server adds: wrap its root.
	m, err := fusebridge.MountFS(mountpoint, bridge.Wrap(&notes{}), nil)
	if err != nil {
		return err
	}
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	uerr := m.Close(sctx)
	bridge.Close(sctx)
	bus.Close(sctx)
	return uerr
}
