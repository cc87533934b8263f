package propagation

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

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
	// Replicated: once Options.Coordinator committed the event (for
	// coord/raft: on a quorum of its shard). The bus delivers it when it
	// comes back from the coordinator's log, on every node: see the
	// package doc's Cluster section.
	Replicated
)

func (d Durability) String() string {
	switch d {
	case Volatile:
		return "volatile"
	case Durable:
		return "durable"
	case Replicated:
		return "replicated"
	}
	return fmt.Sprintf("Durability(%d)", uint8(d))
}

type durabilityKey struct{}

// WithDurability returns a context under which Publish and PublishBatch
// use level d instead of Options.Durability. Durable on a bus without a
// journal means Volatile; Replicated on a bus without a coordinator fails
// with [ErrNoCoordinator].
func WithDurability(ctx context.Context, d Durability) context.Context {
	return context.WithValue(ctx, durabilityKey{}, d)
}

// level returns the durability of a publish under ctx.
func (b *Bus) level(ctx context.Context) Durability {
	d := b.opts.Durability
	if v, ok := ctx.Value(durabilityKey{}).(Durability); ok {
		d = v
	}
	if d == Durable && b.opts.Journal == nil {
		return Volatile
	}
	return d
}

// ErrNoJournal is returned by Subscribe for a replaying subscription, and
// by Publish for a durable one, on a bus without Options.Journal.
var ErrNoJournal = errors.New("propagation: no journal configured")

// Replay makes a subscription read the bus's journal instead of the live
// stream: it gets the durable events from an offset on (those published
// before it subscribed included), then follows new durable events as they
// commit. Volatile events never reach it; the router does not apply to it;
// its filter and tenant do.
//
// # Handler errors
//
// An event whose handler returns an error (or panics) is retried, up to
// Retries times, after Backoff, doubled after each try up to MaxBackoff,
// measured on Options.Clock. If it still fails, the event goes to
// DeadLetter when set: if DeadLetter returns nil the event counts as
// handled (and a consumer commits past it). Otherwise the subscription
// stops at that event, reports a *[ReplayError] to Options.OnError and
// closes Done, and a consumer does not commit the event — as
// Journal.Consume does — so the next subscription with the same consumer
// gets it again. Every failed call is also reported to OnError as a
// *[HandlerError].
type Replay struct {
	// From is the first journal offset to deliver (with Replicated: the
	// first index of every shard; 0 and 1 both mean the start).
	From uint64
	// Replicated makes the subscription read Options.Coordinator's
	// replicated log, every shard, instead of the journal: the committed
	// events of every node, remote ones as Remote (see the package doc's
	// Cluster section). With Consumer, progress is kept per shard by the
	// coordinator's coord.Offsets. The handler's ctx carries each event's
	// position: see [ReplicatedPosition].
	Replicated bool
	// Consumer, when set, names a durable consumer: delivery starts after
	// its last committed offset (From is then ignored) and the journal
	// commits progress as the handler returns (see Journal.Consume), so
	// after a restart nothing is lost and the events handled since the last
	// commit are delivered again.
	//
	// Consumer names belong to the subscriber's tenant (the Principal's,
	// else SubscribeOptions.Tenant): two tenants naming the same consumer
	// get two consumers, each with its own offset. The name must be 1 to
	// 100 letters, digits, '.', '_' or '-', and a subscriber without a
	// tenant may not use the prefix "tenant.".
	Consumer string
	// Retries is how many times a failed event is handed to the handler
	// again before DeadLetter. Default [DefaultReplayRetries]; negative
	// means none.
	Retries int
	// Backoff is the wait before the first retry. Default
	// [DefaultReplayBackoff].
	Backoff time.Duration
	// MaxBackoff caps the doubled wait. Default [DefaultReplayMaxBackoff].
	MaxBackoff time.Duration
	// DeadLetter, when set, receives an event that failed every retry,
	// with its journal offset and the last error. It returns nil once it
	// has taken the event somewhere (a dead-letter journal, a log), and
	// replay goes on past it; an error stops the subscription.
	DeadLetter func(ctx context.Context, off uint64, ev *semevent.Event, err error) error
}

// Replay retry defaults.
const (
	DefaultReplayRetries    = 3
	DefaultReplayBackoff    = 100 * time.Millisecond
	DefaultReplayMaxBackoff = 10 * time.Second
)

func (r Replay) withDefaults() Replay {
	if r.Retries == 0 {
		r.Retries = DefaultReplayRetries
	}
	r.Retries = max(r.Retries, 0)
	if r.Backoff <= 0 {
		r.Backoff = DefaultReplayBackoff
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = DefaultReplayMaxBackoff
	}
	return r
}

// TenantNamer is implemented by principals bound to a tenant
// (*access.Principal is): a replaying subscription's consumer name then
// belongs to that tenant.
type TenantNamer interface {
	TenantName() string
}

// subscriberTenant returns the tenant a subscription acts for: its
// principal's, else its Tenant option.
func subscriberTenant(o *SubscribeOptions) string {
	if p, ok := o.Principal.(TenantNamer); ok {
		if t := p.TenantName(); t != "" {
			return t
		}
	}
	return o.Tenant
}

var (
	consumerNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	tenantPlainRE  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// scopedConsumer returns the journal's name for tenant's consumer name:
// name itself without a tenant, else "tenant.<T>.<name>" where <T> is the
// tenant when it is made of letters, digits, '_' and '-' (and does not
// start with "0x"), and "0x" and its hex encoding otherwise — so two
// tenants never share a name. Without a tenant the prefix "tenant." is
// refused, so that no subscriber outside a tenant reaches its consumers.
func scopedConsumer(tenant, name string) (string, error) {
	if !consumerNameRE.MatchString(name) || name == "." || name == ".." {
		return "", fmt.Errorf("%w: %q: want 1 to 100 letters, digits, '.', '_' or '-'", ErrConsumerName, name)
	}
	if tenant == "" {
		if strings.HasPrefix(name, "tenant.") {
			return "", fmt.Errorf("%w: %q: the prefix \"tenant.\" is reserved for tenants' consumers", ErrConsumerName, name)
		}
		return name, nil
	}
	t := tenant
	if !tenantPlainRE.MatchString(t) || strings.HasPrefix(t, "0x") {
		t = "0x" + hex.EncodeToString([]byte(tenant))
	}
	scoped := "tenant." + t + "." + name
	if len(scoped) > 128 {
		return "", fmt.Errorf("%w: %q of tenant %q: %d bytes once scoped, at most 128", ErrConsumerName, name, tenant, len(scoped))
	}
	return scoped, nil
}

// replay is the goroutine of a replaying subscription: the journal calls
// back for each event, and the subscription's only worker handles it in
// place, retrying as Replay says.
func (s *subscription) replay() {
	w := s.workers[0]
	defer w.exit()
	j := s.bus.opts.Journal
	r := s.opts.Replay.withDefaults()
	fn := func(off uint64, ev *semevent.Event) error {
		if s.halted.Load() {
			return errHalted
		}
		if !s.matches(ev) {
			return nil
		}
		s.matched.Add(1)
		err := s.handleReplayed(s.ctx, w, &r, off, ev)
		w.delivered.Add(1)
		return err
	}
	var err error
	if s.consumer != "" {
		err = j.Consume(s.ctx, s.consumer, fn)
	} else {
		err = j.Tail(s.ctx, r.From, fn)
	}
	var re *ReplayError
	switch {
	case errors.As(err, &re):
		if f := s.bus.opts.OnError; f != nil {
			f(re)
		}
	case err != nil && s.ctx.Err() == nil && !errors.Is(err, errHalted):
		s.report(&semevent.Event{}, fmt.Errorf("replay from the journal stopped: %w", err))
	}
}

// handleReplayed calls the handler for one replayed event, with retries
// and the dead-letter hook; a non-nil result stops the replay without
// committing the event.
func (s *subscription) handleReplayed(ctx context.Context, w *worker, r *Replay, off uint64, ev *semevent.Event) error {
	err := w.callCtx(ctx, ev)
	wait := r.Backoff
	for try := 0; err != nil && try < r.Retries; try++ {
		s.report(ev, err)
		s.retries.Add(1)
		if !s.sleep(wait) {
			return errHalted
		}
		wait = min(2*wait, r.MaxBackoff)
		err = w.callCtx(ctx, ev)
	}
	if err == nil {
		return nil
	}
	s.report(ev, err)
	if r.DeadLetter != nil {
		derr := r.DeadLetter(s.ctx, off, ev, err)
		if derr == nil {
			s.deadLettered.Add(1)
			return nil
		}
		err = fmt.Errorf("%w; dead letter: %w", err, derr)
	}
	return &ReplayError{Subscription: s.opts.Name, Consumer: r.Consumer, Offset: off, EventID: ev.ID, Err: err}
}

// sleep waits d on the bus clock; false if the subscription ended first.
func (s *subscription) sleep(d time.Duration) bool {
	var ch <-chan time.Time
	if c := s.bus.opts.Clock; c != nil {
		ch = c.After(d)
	} else {
		t := time.NewTimer(d)
		defer t.Stop()
		ch = t.C
	}
	select {
	case <-ch:
		return true
	case <-s.ctx.Done():
		return false
	case <-s.halt:
		return false
	}
}

var errHalted = errors.New("propagation: subscription halted")

// endOffsetter is implemented by journals that say where they begin and
// end and can write out everything appended (*journal.Journal does); the
// bus then loads the IDs of the last records into its recent IDs at New.
type endOffsetter interface {
	FirstOffset() uint64
	NextOffset() uint64
	Sync(ctx context.Context) error
}

// loadRecentIDs remembers the IDs (and folded sightings' IDs) of the
// journal's last Options.RecentIDs records, so that retrying a publish
// whose outcome was unknown before a restart is idempotent too. It syncs
// the journal first, so that every record below NextOffset is readable
// and the read ends.
func (b *Bus) loadRecentIDs() error {
	j, ok := b.opts.Journal.(endOffsetter)
	if !ok {
		return nil
	}
	next := j.NextOffset()
	if err := j.Sync(context.Background()); err != nil {
		return fmt.Errorf("propagation: new: syncing the journal to read its recent IDs: %w", err)
	}
	first := j.FirstOffset()
	if next <= first {
		return nil
	}
	from := first
	if n := uint64(b.opts.RecentIDs); next-first > n {
		from = next - n
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := b.opts.Journal.Tail(ctx, from, func(off uint64, ev *semevent.Event) error {
		b.recent.committed(ev.ID)
		for _, o := range ev.Observed {
			b.recent.committed(o.ID)
		}
		if off+1 >= next {
			cancel()
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("propagation: new: reading the journal's recent IDs: %w", err)
	}
	return nil
}
