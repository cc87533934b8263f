package propagation

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/filter"
)

// Options configure a [Bus]. The zero value, and a nil *Options, mean
// defaults; New fills in every zero field with its default.
type Options struct {
	// Node is the node number stamped into the IDs the bus assigns.
	// Zero picks a random one.
	Node uint32

	// QueueSize is the capacity of each boundary's inbound queue. Publishers
	// at a boundary block when its queue is full. Default 4096.
	QueueSize int

	// Quantum is how many events the dispatcher takes from one boundary's
	// queue before it serves the next boundary, so that a flood at one
	// boundary cannot starve the others. Default 64.
	Quantum int

	// Dedup, when non-nil, folds observations of the same operation at
	// different boundaries into one event. See [DedupOptions].
	Dedup *DedupOptions

	// LatencySample times about one in LatencySample events whose ID and
	// Time were already set by the publisher (events the bus stamps are
	// always timed, since the bus reads the clock for them anyway). It is
	// rounded up to a power of two. Default 16; 1 times every event.
	LatencySample int

	// Spin is how long the dispatcher and each worker keep polling for
	// work, yielding the processor between polls, before they park. Waking
	// a parked goroutine costs microseconds; a spinning one picks up an
	// event within one yield. Each polls only while that pays: after a few
	// waits longer than a quarter of Spin it parks at once, until short
	// waits come back. Default 20µs; negative never spins.
	Spin time.Duration

	// Router, when set, decides which subscriptions get each event of the
	// live stream: the event is offered only to the subscriptions whose
	// Name is among the router's destinations (their filter and tenant
	// still apply). A routing.Table hot-reloads its rules while the bus
	// runs. Nil offers every event to every subscription.
	Router Router

	// Journal, when set, makes durable publishing and replaying
	// subscriptions possible; see [Durability] and [Replay]. The bus does
	// not close it.
	Journal Journal

	// Durability is the level of a Publish whose ctx does not carry one
	// (see [WithDurability]). Durable needs Journal, Replicated needs
	// Coordinator. Default Volatile.
	Durability Durability

	// Coordinator, when set, makes the bus one node of a cluster: a
	// Replicated publish is committed through it, and the bus follows
	// every shard of its log and delivers every committed event, this
	// node's at commit and other nodes' as Remote. See the package doc's
	// Cluster section. The bus does not close it.
	Coordinator coord.Coordinator

	// RemotePrincipal is the principal that events from other nodes are
	// checked against (Authorizer.CheckPublish) before they enter this
	// bus: a remote event that it may not publish is not delivered, and
	// counted in Stats.RemoteDenied. Required when both Authorizer and
	// Coordinator are set, and the Authorizer must then implement
	// [PrincipalBinder] (*access.Authorizer does, with a *access.Principal).
	RemotePrincipal any

	// Authorizer, when set, enforces access control: Publish needs a
	// principal in its ctx (access.WithPrincipal) allowed to publish the
	// event; a subscription needs SubscribeOptions.Principal, allowed to
	// subscribe (or replay) at all, and is offered only the events that
	// principal may see, decided per event. *access.Authorizer implements
	// it.
	Authorizer Authorizer

	// OnError, when set, receives every error a handler returns and every
	// recovered handler panic (as *semevent.PanicError), wrapped in a
	// *HandlerError, and the *UnroutedError of a subscription that no
	// router rule names (once per subscription). It is called from the
	// bus's goroutines and must not block for long.
	OnError func(err error)

	// Logger receives the bus's log lines (component "bus"): handler
	// errors and panics, router panics, unrouted subscriptions and
	// dropped events, with the attributes "subscription", "event",
	// "err", "reason" and "count". nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences it. Lines that could repeat
	// per event (drops, handler errors) are logged the first time for a
	// subscription and then at most every 10s as a summary whose "count"
	// says how many occurred; nothing is allocated per event when the
	// level leaves them out. OnError still receives every error.
	Logger *slog.Logger

	// Clock is the time source of deduplication (publish stamps, windows,
	// the dispatcher's timer) and of replay retry backoff. Nil is the real
	// clock; tests pass propagationtest.Clock so that nothing depends on
	// wall time. It must be safe for concurrent use.
	Clock Clock

	// MaxEventBytes bounds the size of one published event, as
	// [EventBytes] counts it (Data, attributes, paths, topic, tenant,
	// observations and a fixed header). Publish refuses a larger event with
	// an *EventTooLargeError. Default [DefaultMaxEventBytes]; negative
	// means no limit.
	MaxEventBytes int

	// RecentIDs caps how many IDs of durable publishes the bus remembers
	// so that a retry of a publish whose outcome was unknown (see
	// [ErrOutcomeUnknown]) is idempotent: a durable Publish of an event
	// whose ID is among them returns the first outcome instead of
	// appending again. The oldest ID is forgotten first (Stats.RecentIDsEvicted
	// counts them). At New, the bus loads the IDs of the journal's last
	// RecentIDs records when the journal can say where it ends. Default
	// [DefaultRecentIDs].
	RecentIDs int
}

// Clock is the time source of a [Bus]: the same shape as the automation
// package's Clock, so one fake serves both.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// DedupOptions configure deduplication: two sightings of the same
// operation (equal keys) at two different Boundaries, published at most
// Window apart, become one event, with Seen listing every boundary that
// observed it and Observed the other sightings. The kept event is the
// sighting from the boundary that carries the most context: FUSE, then
// Userspace, then Remote, then Kernel. Events from other boundaries, and
// events whose key is empty (S == "" and N == 0), pass without delay.
//
// The window is measured on publish stamps: Publish reads Options.Clock
// for every event at a deduplicated boundary. An event leaves unpaired
// only once the dispatcher has taken every event that the other
// boundaries' publishers stamped up to its stamp plus Window, so a backlog
// or a slow subscriber cannot make twins miss each other: dedup is exact
// whatever the load, short of MaxPending.
//
// Holding keeps order: events from the deduplicated boundaries leave in the
// order they arrived, so an event that waits for its twin also delays the
// later events of its own boundary by about Window.
type DedupOptions struct {
	// Window is the largest gap between the publish stamps of two
	// sightings that fold, and so how long an unpaired event waits.
	// Default [DefaultDedupWindow], long enough for the FUSE bridge's
	// kernel watcher on a loaded machine.
	Window time.Duration
	// Boundaries that observe the same operations. Default Kernel and FUSE.
	Boundaries semevent.BoundarySet
	// Key returns the identity of an operation: two events with equal keys
	// from different boundaries are the same operation; an empty key
	// (S == "" and N == 0) takes no part. Keys carry the tenant, and
	// sightings of different tenants never fold whatever Key returns.
	// Default [OperationKey], which suits the FUSE bridge and its kernel
	// watcher.
	Key semevent.KeyFunc
	// MaxPending caps the events held at once; past it the oldest is
	// released early, unpaired, and counted in Stats.DedupEvicted.
	// Default 65536. A held event keeps its whole Event alive (about
	// 0.5 KiB with a short path), so the default bounds held state near
	// 35 MiB.
	MaxPending int
}

// Policy says what a subscription does when its buffer is full.
type Policy uint8

const (
	// Block makes delivery wait for room, which in turn blocks publishers
	// once the boundary queues fill. Nothing is dropped. The default.
	Block Policy = iota
	// DropNewest discards the event that does not fit.
	DropNewest
	// DropOldest discards the oldest buffered event to make room.
	DropOldest
)

func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// SubscribeOptions configure one subscription. A nil *SubscribeOptions
// means defaults: every event, one worker, a 1024-event buffer, Block.
type SubscribeOptions struct {
	// Name identifies the subscription in statistics and errors.
	// Default "sub-N".
	Name string
	// Filter selects the events delivered; nil selects all.
	Filter filter.Filter
	// Tenant, when set, restricts delivery to events of that tenant.
	Tenant string
	// Buffer is the capacity of each worker's buffer. Default 1024.
	Buffer int
	// Policy applies when a worker's buffer is full. Default Block.
	Policy Policy
	// Workers is the number of goroutines calling the handler. With more
	// than one, events are spread by Key and order holds per key.
	// Default 1.
	Workers int
	// Key spreads events over workers by its [semevent.Key.Hash]; nil
	// means [semevent.PathKey] (tenant and path).
	Key semevent.KeyFunc
	// Principal is who subscribes, when the bus has an Authorizer: the
	// value its SubscribeChecker receives (a *access.Principal for
	// *access.Authorizer).
	Principal any
	// Replay, when set, makes the subscription read the bus's journal
	// instead of the live stream; see [Replay]. Workers, Buffer and Policy
	// do not apply: the journal is the buffer, and it never drops.
	Replay *Replay
}

// Router decides which subscriptions get an event: it appends their names
// to dst. routing.Router is the same interface, and *routing.Table
// implements it. It is called from the dispatcher goroutine only.
type Router interface {
	Route(ev *semevent.Event, dst []string) []string
}

// Defaults.
const (
	DefaultQueueSize     = 4096
	DefaultQuantum       = 64
	DefaultLatencySample = 16
	DefaultSpin          = 20 * time.Microsecond
	DefaultBuffer        = 1024
	DefaultDedupWindow   = 500 * time.Millisecond
	DefaultMaxPending    = 65536
	DefaultMaxEventBytes = 1 << 20
	DefaultRecentIDs     = 65536
	// MaxQueueSize bounds Options.QueueSize: the bus counts accepted
	// events modulo 2^24.
	MaxQueueSize = 1 << 22
)

// withDefaults returns a copy of o (nil allowed) with every zero field set.
func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Quantum == 0 {
		c.Quantum = DefaultQuantum
	}
	if c.LatencySample == 0 {
		c.LatencySample = DefaultLatencySample
	}
	if c.Spin == 0 {
		c.Spin = DefaultSpin
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
	if c.RecentIDs == 0 {
		c.RecentIDs = DefaultRecentIDs
	}
	if c.Dedup != nil {
		d := *c.Dedup
		if d.Window == 0 {
			d.Window = DefaultDedupWindow
		}
		if d.Boundaries == 0 {
			d.Boundaries = semevent.Boundaries(semevent.Kernel, semevent.FUSE)
		}
		if d.Key == nil {
			d.Key = OperationKey
		}
		if d.MaxPending == 0 {
			d.MaxPending = DefaultMaxPending
		}
		c.Dedup = &d
	}
	return c
}

// Validate reports every problem with o (after defaults) in one
// *semevent.OptionsError.
func (o *Options) Validate() error {
	c := o.withDefaults()
	e := &semevent.OptionsError{Options: "propagation.Options"}
	bad := e.Addf
	if c.QueueSize < 2 || c.QueueSize > MaxQueueSize {
		bad("QueueSize", "%d, want 2 to %d", c.QueueSize, MaxQueueSize)
	}
	if c.RecentIDs < 1 {
		bad("RecentIDs", "%d, want at least 1", c.RecentIDs)
	}
	if c.Quantum < 1 {
		bad("Quantum", "%d, want at least 1", c.Quantum)
	}
	if c.LatencySample < 1 {
		bad("LatencySample", "%d, want at least 1", c.LatencySample)
	}
	if c.Durability > Replicated {
		bad("Durability", "unknown level %d", uint8(c.Durability))
	}
	if c.Durability == Durable && c.Journal == nil {
		bad("Durability", "durable needs a Journal")
	}
	if c.Durability == Replicated && c.Coordinator == nil {
		bad("Durability", "replicated needs a Coordinator")
	}
	if c.Authorizer != nil && c.Coordinator != nil {
		if c.RemotePrincipal == nil {
			bad("RemotePrincipal", "required with an Authorizer and a Coordinator: events from other nodes are checked as published by it")
		} else if _, ok := c.Authorizer.(PrincipalBinder); !ok {
			bad("Authorizer", "%T does not implement propagation.PrincipalBinder, so RemotePrincipal cannot be checked", c.Authorizer)
		}
	}
	if d := c.Dedup; d != nil {
		if d.Window < 0 {
			bad("Dedup.Window", "%v is negative", d.Window)
		}
		if d.Boundaries.Len() < 2 {
			bad("Dedup.Boundaries", "%v: deduplication needs at least two boundaries", d.Boundaries)
		}
		if d.MaxPending < 1 {
			bad("Dedup.MaxPending", "%d, want at least 1", d.MaxPending)
		}
	}
	return e.Err()
}

func (o *SubscribeOptions) withDefaults(n uint64) SubscribeOptions {
	var c SubscribeOptions
	if o != nil {
		c = *o
	}
	if c.Name == "" {
		c.Name = fmt.Sprintf("sub-%d", n)
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.Key == nil {
		c.Key = semevent.PathKey
	}
	return c
}

// Validate reports every problem with o (after defaults) in one
// *semevent.OptionsError.
func (o *SubscribeOptions) Validate() error {
	c := o.withDefaults(0)
	e := &semevent.OptionsError{Options: "propagation.SubscribeOptions"}
	bad := e.Addf
	if c.Buffer < 1 {
		bad("Buffer", "%d, want at least 1", c.Buffer)
	}
	if c.Workers < 1 || c.Workers > 1024 {
		bad("Workers", "%d, want 1 to 1024", c.Workers)
	}
	if c.Policy > DropOldest {
		bad("Policy", "unknown policy %d", uint8(c.Policy))
	}
	return e.Err()
}
