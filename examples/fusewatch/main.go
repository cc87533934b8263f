// Fusewatch mounts a loopback FUSE file system over a backing directory,
// watches the backing directory with the kernel watcher, and prints every
// semantic event live: what happened, where, by which process, and at
// which boundaries it was seen (kernel+fuse when an operation through the
// mount was folded with the kernel's sighting of it, kernel alone for
// someone writing the backing directory directly). On Ctrl-C or SIGTERM it
// unmounts and prints a summary.
//
//	sudo go run ./examples/fusewatch -backing /tmp/data -mount /tmp/mnt
//	# in another shell: echo hi > /tmp/mnt/a.txt; mv /tmp/mnt/a.txt /tmp/mnt/b.txt
//
// It needs root and /dev/fuse (it mounts without fusermount). It is also a
// template for a custom FUSE server: replace bridge.NewLoopbackRoot with
// bridge.Wrap(yourRootNode).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

type config struct {
	backing, mount string
	writes         string        // sessions, calls, both
	watch          string        // auto, fanotify, inotify, off
	window         time.Duration // dedup window
	reads          bool          // print open/read/close events too
	quiet          bool          // summary only
}

func main() {
	var c config
	flag.StringVar(&c.backing, "backing", "", "backing directory (required)")
	flag.StringVar(&c.mount, "mount", "", "mountpoint, an existing empty directory (required)")
	flag.StringVar(&c.writes, "writes", "sessions", "write events: sessions (one per open→close), calls (one per write) or both")
	flag.StringVar(&c.watch, "watch", "auto", "kernel watcher on the backing directory: auto, fanotify, inotify or off")
	flag.DurationVar(&c.window, "window", propagation.DefaultDedupWindow, "how long an event waits for its twin from the other boundary")
	flag.BoolVar(&c.reads, "reads", false, "also print open, read and close events")
	flag.BoolVar(&c.quiet, "q", false, "print only the summary")
	flag.Parse()
	if c.backing == "" || c.mount == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout, nil); err != nil {
		fmt.Fprintln(os.Stderr, "fusewatch:", err)
		os.Exit(1)
	}
}

// run mounts, prints events until ctx ends, unmounts and prints the
// summary. ready, when set, is called once the mount serves.
func run(ctx context.Context, c config, out io.Writer, ready func()) error {
	writes := map[string]fusebridge.WriteMode{"sessions": fusebridge.WriteSessions, "calls": fusebridge.WriteCalls, "both": fusebridge.WriteBoth}
	wm, ok := writes[c.writes]
	if !ok {
		return fmt.Errorf("-writes %q: want sessions, calls or both", c.writes)
	}
	modes := map[string]fusebridge.WatcherMode{"auto": fusebridge.Auto, "fanotify": fusebridge.Fanotify, "inotify": fusebridge.Inotify}
	if _, ok := modes[c.watch]; !ok && c.watch != "off" {
		return fmt.Errorf("-watch %q: want auto, fanotify, inotify or off", c.watch)
	}
	if err := fusebridge.Available(); err != nil {
		return err
	}

	// The bus folds the FUSE and kernel sightings of one operation.
	bus, err := propagation.New(&propagation.Options{Dedup: fusebridge.DedupOptions(c.window)})
	if err != nil {
		return err
	}
	p := &printer{out: out, reads: c.reads, quiet: c.quiet, counts: map[string]int{}}
	if _, err := bus.Subscribe(p, &propagation.SubscribeOptions{Name: "printer", Buffer: 1 << 14}); err != nil {
		return err
	}

	// The FUSE side: a loopback over the backing directory, every
	// operation an event. A custom server would Wrap its own root here.
	bridge, err := fusebridge.New(bus, &fusebridge.Options{Writes: wm})
	if err != nil {
		return err
	}
	root, err := bridge.NewLoopbackRoot(c.backing)
	if err != nil {
		return err
	}

	// The kernel side, started before the mount so it sees everything.
	var w *fusebridge.Watcher
	if c.watch != "off" {
		w, err = fusebridge.NewWatcher(bus, c.backing, &fusebridge.WatcherOptions{Mode: modes[c.watch], ServerPID: os.Getpid()})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "kernel watcher: %v — %s\n", w.Mode(), w.Reason())
	}
	m, err := fusebridge.MountFS(c.mount, root, &fusebridge.MountOptions{FsName: "fusewatch:" + c.backing})
	if err != nil {
		if w != nil {
			w.Close(context.Background())
		}
		return err
	}
	fmt.Fprintf(out, "serving %s at %s; Ctrl-C to stop\n", c.backing, c.mount)
	if ready != nil {
		ready()
	}

	<-ctx.Done()
	fmt.Fprintln(out, "unmounting…")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	uerr := m.Close(sctx)
	var ws fusebridge.WatcherStats
	if w != nil {
		w.Sync(sctx)
		w.Close(sctx)
		ws = w.Stats()
	}
	bridge.Close(sctx)
	bus.Close(sctx)
	p.summary(bridge.Stats(), ws, w != nil, bus.Stats())
	return uerr
}

// printer prints events as they arrive and counts them.
type printer struct {
	out          io.Writer
	reads, quiet bool

	mu     sync.Mutex // guards counts and out
	counts map[string]int
}

func (p *printer) Handle(_ context.Context, ev *semevent.Event) error {
	seen := strings.ReplaceAll(ev.Seen.String(), "|", "+")
	key := fmt.Sprintf("%-6s %s", ev.Kind, seen)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts[key]++
	if p.quiet {
		return nil
	}
	switch ev.Kind {
	case semevent.KindFileOpen, semevent.KindFileRead, semevent.KindFileClose:
		if !p.reads {
			return nil
		}
	}
	line := fmt.Sprintf("%s %-12s %-8s %s", time.Unix(0, ev.Time).Format("15:04:05.000"), seen, ev.Kind, ev.Path)
	if ev.OldPath != "" {
		line += " (from " + ev.OldPath + ")"
	}
	line += fmt.Sprintf(" pid=%d", ev.PID)
	if ev.Kind == semevent.KindFileWrite || ev.Kind == semevent.KindFileRead || ev.Kind == semevent.KindFileTruncate {
		line += fmt.Sprintf(" size=%d", ev.Size)
	}
	if r, ok := ev.Attr(fusebridge.AttrRanges); ok && r != "" {
		line += " ranges=" + r
	}
	fmt.Fprintln(p.out, line)
	return nil
}

func (p *printer) summary(bs fusebridge.Stats, ws fusebridge.WatcherStats, watched bool, st propagation.Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.out, "summary: events delivered, by kind and boundaries that saw them")
	keys := make([]string, 0, len(p.counts))
	for k := range p.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(p.out, "  %-24s %d\n", k, p.counts[k])
	}
	fmt.Fprintf(p.out, "fuse bridge: %d queued, %d published, %d dropped, %d evicted\n", bs.Queued, bs.Published, bs.Dropped, bs.Evicted)
	if watched {
		fmt.Fprintf(p.out, "kernel watcher: %d records, %d published, %d ignored, %d overflows, %d directories\n",
			ws.Records, ws.Published, ws.Ignored, ws.Overflows, ws.Dirs)
	}
	fmt.Fprintf(p.out, "bus: %d published, %d folded by dedup, %d delivered\n", st.Published, st.Deduplicated, st.Delivered)
}
