package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

func watchCmd() *cobra.Command {
	var asJSON bool
	var kinds, mode, jdir, keyFile, cursor string
	var count int
	c := &cobra.Command{
		Use:   "watch DIR",
		Short: "Print a directory tree's file-system events as the kernel reports them",
		Long: `Watch the directory tree at DIR with the kernel watcher (fanotify when
running as root on a recent kernel, else inotify; no FUSE mount) and print
each event as it happens, until interrupted or --count events were printed.
The watcher's mode and why it was chosen go to standard error.

With --journal JDIR every event is appended to that journal (created if
needed) before it is printed, with its offset, and on exit the cursor after
the last one goes to standard error. --since-cursor CURSOR (a cursor from a
previous watch or from "semevent since") first prints the journaled events
after CURSOR, then goes on live with nothing missed in between. A cursor
the journal cannot answer from (another journal, older than retention) is
an error: rescan, then start again without it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) (retErr error) {
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
			if cursor != "" && jdir == "" {
				return usagef("--since-cursor needs --journal")
			}
			var j *journal.Journal
			if jdir != "" {
				jo, err := journalOptions(keyFile)
				if err != nil {
					return err
				}
				if j, err = journal.Open(jdir, jo); err != nil {
					return fmt.Errorf("journal %s: %w", jdir, err)
				}
				defer func() {
					if retErr == nil {
						fmt.Fprintf(c.ErrOrStderr(), "semevent: cursor %s\n", since.Now(j, 0))
					}
					if err := j.Close(context.Background()); err != nil && retErr == nil {
						retErr = fmt.Errorf("journal %s: %w", jdir, err)
					}
				}()
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			var mu sync.Mutex // guards printed, werr and the output
			printed := 0
			var werr error
			out := c.OutOrStdout()
			// emit prints one event; it reports whether to go on.
			emit := func(off *uint64, ev *semevent.Event) bool {
				if count > 0 && printed >= count {
					return false
				}
				if err := printEvent(out, asJSON, off, nil, ev); err != nil && werr == nil {
					werr = err
					cancel()
					return false
				}
				printed++
				if count > 0 && printed == count {
					cancel()
					return false
				}
				return true
			}
			if cursor != "" {
				r, why, err := since.NewReader(j, cursor, 0)
				if err != nil {
					return fmt.Errorf("--since-cursor: %w", err)
				}
				if why != since.NotFresh {
					return fmt.Errorf("--since-cursor: %s: rescan, then watch without it", why)
				}
				var ev semevent.Event
				for {
					off, err := r.Next(&ev)
					if err == io.EOF {
						break
					}
					if err != nil {
						r.Close()
						return fmt.Errorf("journal %s: %w", jdir, err)
					}
					if !emit(&off, &ev) {
						break
					}
				}
				r.Close()
				if ctx.Err() != nil {
					return werr
				}
			}
			pub := semevent.PublishFunc(func(pctx context.Context, ev *semevent.Event) error {
				mu.Lock()
				defer mu.Unlock()
				if ctx.Err() != nil {
					return nil
				}
				if j == nil {
					emit(nil, ev)
					return nil
				}
				off, err := j.Append(pctx, ev)
				if err != nil {
					if werr == nil {
						werr = fmt.Errorf("journal %s: %w", jdir, err)
					}
					cancel()
					return err
				}
				emit(&off, ev)
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
	c.Flags().StringVar(&jdir, "journal", "", "append every event to the journal in this directory (created if needed)")
	keyFileFlag(c, &keyFile)
	c.Flags().StringVar(&cursor, "since-cursor", "", "with --journal: first print the journaled events after this cursor")
	return c
}
