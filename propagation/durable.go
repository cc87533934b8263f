package propagation

import (
	"context"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
)

// Journal is what the bus needs from a durable log to make publishes
// durable and to let subscriptions replay. *journal.Journal (package
// propagation/journal) implements it.
type Journal interface {
	// Append returns once ev is committed, with its offset.
	Append(ctx context.Context, ev *semevent.Event) (uint64, error)
	// AppendBatch commits evs together and returns the first offset.
	AppendBatch(ctx context.Context, evs []*semevent.Event) (uint64, error)
	// Tail calls fn for every committed event from offset from on, then
	// for new ones as they commit, until ctx ends or fn fails.
	Tail(ctx context.Context, from uint64, fn func(off uint64, ev *semevent.Event) error) error
	// Consume is Tail from the named consumer's committed offset,
	// committing progress after fn returns — *journal.Journal commits every
	// 4096 records, whenever it catches up and on return — so a restart
	// delivers again at most the events since the last commit
	// (at-least-once).
	Consume(ctx context.Context, name string, fn func(off uint64, ev *semevent.Event) error) error
}

// Durability says when Publish returns.
type Durability uint8

const (
	// Volatile: once the event is accepted in memory. The default.
	Volatile Durability = iota
	// Durable: once the event is committed to Options.Journal (under the
	// journal's sync policy), and then accepted in memory.
	Durable
)

func (d Durability) String() string {
	switch d {
	case Volatile:
		return "volatile"
	case Durable:
		return "durable"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

type durabilityKey struct{}

// WithDurability returns a context under which Publish and PublishBatch on
// a bus with a journal use level d instead of Options.Durability.
func WithDurability(ctx context.Context, d Durability) context.Context {
	return context.WithValue(ctx, durabilityKey{}, d)
}

// durable reports whether a publish under ctx must reach the journal first.
func (b *Bus) durable(ctx context.Context) bool {
	if b.opts.Journal == nil {
		return false
	}
	if d, ok := ctx.Value(durabilityKey{}).(Durability); ok {
		return d == Durable
	}
	return b.opts.Durability == Durable
}

// ErrNoJournal is returned by Subscribe for a replaying subscription, and
// by Publish for a durable one, on a bus without Options.Journal.
var ErrNoJournal = errors.New("propagation: no journal configured")

// Replay makes a subscription read the bus's journal instead of the live
// stream: it gets the durable events from an offset on (those published
// before it subscribed included), then follows new durable events as they
// commit. Volatile events never reach it; the router does not apply to it;
// its filter and tenant do.
type Replay struct {
	// From is the first journal offset to deliver.
	From uint64
	// Consumer, when set, names a durable consumer: delivery starts after
	// its last committed offset (From is then ignored) and the journal
	// commits progress as the handler returns (see Journal.Consume), so
	// after a restart nothing is lost and the events handled since the last
	// commit are delivered again.
	Consumer string
}

// replay is the goroutine of a replaying subscription: the journal calls
// back for each event, and the subscription's only worker handles it in
// place.
func (s *subscription) replay() {
	w := s.workers[0]
	defer w.exit()
	j := s.bus.opts.Journal
	fn := func(off uint64, ev *semevent.Event) error {
		if s.halted.Load() {
			return errHalted
		}
		if s.matches(ev) {
			s.matched.Add(1)
			w.deliver(envelope{ev: ev})
		}
		return nil
	}
	var err error
	if r := s.opts.Replay; r.Consumer != "" {
		err = j.Consume(s.ctx, r.Consumer, fn)
	} else {
		err = j.Tail(s.ctx, r.From, fn)
	}
	if err != nil && s.ctx.Err() == nil && !errors.Is(err, errHalted) {
		s.report(&semevent.Event{}, fmt.Errorf("replay from the journal stopped: %w", err))
	}
}

var errHalted = errors.New("propagation: subscription halted")
