package main

import (
	"context"
	"fmt"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
)

func watchCmd() *cobra.Command {
	var asJSON bool
	var kinds, mode string
	var count int
	c := &cobra.Command{
		Use:   "watch DIR",
		Short: "Print a directory tree's file-system events as the kernel reports them",
		Long: `Watch the directory tree at DIR with the kernel watcher (fanotify when
running as root on a recent kernel, else inotify; no FUSE mount) and print
each event as it happens, until interrupted or --count events were printed.
The watcher's mode and why it was chosen go to standard error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts := &fusebridge.WatcherOptions{}
			switch mode {
			case "auto":
			case "fanotify":
				opts.Mode = fusebridge.Fanotify
			case "inotify":
				opts.Mode = fusebridge.Inotify
			default:
				return usagef("--mode %q: want auto, fanotify or inotify", mode)
			}
			if kinds != "" {
				for _, name := range strings.Split(kinds, ",") {
					k, err := semevent.ParseKind(strings.TrimSpace(name))
					if err != nil {
						return usagef("--kinds: %v", err)
					}
					opts.Kinds = append(opts.Kinds, k)
				}
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var mu sync.Mutex // guards printed and the output
			printed := 0
			var werr error
			out := c.OutOrStdout()
			pub := semevent.PublishFunc(func(_ context.Context, ev *semevent.Event) error {
				mu.Lock()
				defer mu.Unlock()
				if count > 0 && printed >= count {
					return nil
				}
				if err := printEvent(out, asJSON, nil, ev); err != nil && werr == nil {
					werr = err
					cancel()
				}
				printed++
				if count > 0 && printed == count {
					cancel()
				}
				return nil
			})
			opts.OnError = func(err error) { fmt.Fprintf(c.ErrOrStderr(), "semevent: watch: %s\n", oneLine(err.Error())) }
			w, err := fusebridge.NewWatcher(pub, args[0], opts)
			if err != nil {
				return fmt.Errorf("watch %s: %w", args[0], err)
			}
			fmt.Fprintf(c.ErrOrStderr(), "semevent: watching %s with %s (%s)\n", args[0], w.Mode(), w.Reason())
			<-ctx.Done()
			if err := w.Close(context.Background()); err != nil {
				return fmt.Errorf("watch %s: %w", args[0], err)
			}
			mu.Lock()
			defer mu.Unlock()
			return werr
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per event")
	c.Flags().StringVar(&kinds, "kinds", "", "comma-separated kinds to report (create,delete,rename,mkdir,rmdir,write,chmod,open,read,close); default all but open, read, close")
	c.Flags().StringVar(&mode, "mode", "auto", "kernel interface: auto, fanotify or inotify")
	c.Flags().IntVar(&count, "count", 0, "exit after this many events (0: run until interrupted)")
	return c
}
