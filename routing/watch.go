package routing

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"
)

// WatchOptions configure [Watch]. The zero value and nil mean defaults.
type WatchOptions struct {
	// Interval between checks of the file. Default 1s.
	Interval time.Duration
	// OnReload is called after a changed file was loaded, with the new
	// version.
	OnReload func(version uint64)
	// OnError is called when a changed file cannot be read or is invalid;
	// the current rule set keeps running.
	OnError func(err error)
}

// Validate lists every problem in o.
func (o *WatchOptions) Validate() error {
	if o != nil && o.Interval < 0 {
		return &OptionsError{Options: "WatchOptions", Problems: []string{fmt.Sprintf("Interval %v is negative", o.Interval)}}
	}
	return nil
}

// Watcher polls a rule set file and reloads a [Table] when it changes.
type Watcher struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Watch loads the rule set file name into t, then checks it every
// Interval and loads it again when its contents change, until ctx ends or
// Stop is called. The first load is synchronous: its error is returned and
// nothing is started. Watching polls (read the file, compare its bytes
// with the last ones), so it works for editors that replace files and on
// every file system; rule set files are small.
func Watch(ctx context.Context, t *Table, name string, opts *WatchOptions) (*Watcher, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o WatchOptions
	if opts != nil {
		o = *opts
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("routing: watch: %w", err)
	}
	if err := t.LoadFileContext(ctx, name); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{cancel: cancel, done: make(chan struct{})}
	go w.run(ctx, t, name, o, data)
	return w, nil
}

func (w *Watcher) run(ctx context.Context, t *Table, name string, o WatchOptions, last []byte) {
	defer close(w.done)
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	report := func(err error) {
		if o.OnError != nil {
			o.OnError(err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		data, err := os.ReadFile(name)
		if err != nil {
			report(fmt.Errorf("routing: watch: %w", err))
			continue
		}
		if bytes.Equal(data, last) {
			continue
		}
		last = data
		if err := t.LoadFileContext(ctx, name); err != nil {
			report(err)
			continue
		}
		if o.OnReload != nil {
			o.OnReload(t.Version())
		}
	}
}

// Stop ends the watch and waits for its goroutine to return.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// Done is closed when the watch has ended.
func (w *Watcher) Done() <-chan struct{} { return w.done }
