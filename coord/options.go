package coord

import (
	"context"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/coordlog"
)

// DefaultMaxEventSize is the default limit of one event's encoding.
const DefaultMaxEventSize = 1 << 20

// Options configure a [Local] coordinator. The zero value, and a nil
// *Options, mean defaults.
type Options struct {
	// Node is this node's id, reported by Health and stamped (truncated to
	// 32 bits) into the IDs of events appended without one. Default 1.
	Node uint64
	// Shards is the number of logs events are spread over. Default 1.
	Shards int
	// Key picks an event's shard: [ShardOf] its key. nil means
	// [semevent.PathKey] (tenant and path).
	Key semevent.KeyFunc
	// MaxEventSize bounds one event's encoded size; Append rejects larger
	// events with a *[SizeError]. Default [DefaultMaxEventSize].
	MaxEventSize int
	// Guard, when set, authorizes membership changes: AddNode and
	// RemoveNode run only through Guard(ctx, GuardTarget, change).
	// (*access.Authorizer).Guard fits: it checks OpAdmin for ctx's
	// principal and audits the change.
	Guard func(ctx context.Context, target string, change func() error) error
	// DedupWindow is how many of each shard's last committed event IDs
	// Append remembers: an event whose ID is among them is not appended
	// again and is reported with Position.AlreadyCommitted. Default
	// DefaultDedupWindow (100,000: about 5 MB per shard); at most
	// MaxDedupWindow; negative disables it. Past the window the oldest
	// ID is forgotten (count-based).
	DedupWindow int
	// MaxConsumers bounds the consumer names whose offsets a shard keeps
	// ([Offsets]); CommitOffset of one more name fails with
	// [ErrTooManyConsumers]. Default DefaultMaxConsumers.
	MaxConsumers int
}

// Defaults and bounds of [Options].
const (
	DefaultDedupWindow  = coordlog.DefaultWindow
	MaxDedupWindow      = coordlog.MaxWindow
	DefaultMaxConsumers = 1024
)

// GuardTarget is the target name coordinators pass to a Guard.
const GuardTarget = "coord.membership"

// Guarded runs change through guard, or directly when guard is nil.
func Guarded(ctx context.Context, guard func(context.Context, string, func() error) error, change func() error) error {
	if guard == nil {
		return change()
	}
	return guard(ctx, GuardTarget, change)
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Node == 0 {
		c.Node = 1
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.Key == nil {
		c.Key = semevent.PathKey
	}
	if c.MaxEventSize == 0 {
		c.MaxEventSize = DefaultMaxEventSize
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = DefaultDedupWindow
	}
	if c.MaxConsumers == 0 {
		c.MaxConsumers = DefaultMaxConsumers
	}
	return c
}

// Validate reports every problem with o (after defaults) in one
// *semevent.OptionsError.
func (o *Options) Validate() error {
	c := o.withDefaults()
	e := &semevent.OptionsError{Options: "coord.Options"}
	if c.Shards < 1 || c.Shards > MaxShards {
		e.Addf("Shards", "%d, want 1 to %d", c.Shards, MaxShards)
	}
	if c.MaxEventSize < 64 {
		e.Addf("MaxEventSize", "%d, want at least 64", c.MaxEventSize)
	}
	if c.DedupWindow > MaxDedupWindow {
		e.Addf("DedupWindow", "%d, want at most %d", c.DedupWindow, MaxDedupWindow)
	}
	if c.MaxConsumers < 0 {
		e.Addf("MaxConsumers", "%d is negative", c.MaxConsumers)
	}
	return e.Err()
}

// MaxShards bounds the number of shards of any coordinator.
const MaxShards = 1024
