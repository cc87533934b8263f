package semevent

import (
	"context"
	"errors"
)

// Closer is a long-lived component: every bus, journal, mount, watcher,
// bridge, engine, processor, coordinator and dashboard of semevent has this
// one method. Close stops the component, waits for its goroutines to end
// (or for ctx to end, whichever is first) and releases what it holds. It is
// safe to call more than once and from any goroutine; calls after the
// first return nil, or the first call's error. Operations on a closed
// component return an error wrapping [ErrClosed].
type Closer interface {
	Close(ctx context.Context) error
}

// CloseAll closes cs in the order given, each with ctx, skipping nil ones,
// and returns every error joined. Pass components in the shutdown order of
// the package documentation (producers before the bus, the bus before the
// journal): CloseAll does not reorder them.
func CloseAll(ctx context.Context, cs ...Closer) error {
	var errs []error
	for _, c := range cs {
		if c == nil {
			continue
		}
		if err := c.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
