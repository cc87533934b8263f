// Package journalrec keeps a component's own records in a
// propagation/journal, as events of one topic: the piece that
// automation.JournalStore and audit.JournalStore share. The journal may be
// shared with other events, which reading skips.
package journalrec

import (
	"context"
	"errors"
	"io"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// Log is the records of one topic in a journal. Its methods may be called
// concurrently (the journal's are).
type Log struct {
	j     *journal.Journal
	topic string
	kind  semevent.Kind
}

// New returns the Log of records of kind and topic in j. The caller keeps
// ownership of j.
func New(j *journal.Journal, kind semevent.Kind, topic string) *Log {
	return &Log{j: j, topic: topic, kind: kind}
}

// Journal returns the journal the records are kept in.
func (l *Log) Journal() *journal.Journal { return l.j }

// Append sets ev's Kind and Topic to the log's and appends it, returning
// once the journal has committed it (an fsync under journal.SyncAlways).
func (l *Log) Append(ctx context.Context, ev *semevent.Event) error {
	ev.Kind, ev.Topic = l.kind, l.topic
	_, err := l.j.Append(ctx, ev)
	return err
}

// Sync makes every appended record durable whatever the journal's sync
// policy.
func (l *Log) Sync(ctx context.Context) error { return l.j.Sync(ctx) }

// Each calls fn, in append order from the journal's first retained record
// to its last readable one, with the offset and a fresh copy of every
// event of the log's topic, whatever its kind (a caller that trusts only
// its own kind checks it: an event of the topic with another kind was not
// appended through this Log). It stops at fn's first error, at a
// journal error (such as a *journal.CorruptError), or when ctx ends, and
// returns that error.
func (l *Log) Each(ctx context.Context, fn func(off uint64, ev *semevent.Event) error) error {
	r, err := l.j.NewReader(l.j.FirstOffset())
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev := new(semevent.Event)
		off, err := r.Next(ev)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if ev.Topic != l.topic {
			continue
		}
		if err := fn(off, ev); err != nil {
			return err
		}
	}
}
