package propagation

import (
	"time"

	"github.com/vexfs/semevent"
)

// Stats is a snapshot of a bus's counters. Counters only grow; a snapshot
// taken while events flow is consistent per counter, not across counters.
type Stats struct {
	Published    uint64 // events accepted by Publish
	Matched      uint64 // (event, subscription) pairs that passed the filter
	Denied       uint64 // (event, subscription) pairs the Authorizer refused
	Delivered    uint64 // events whose handling ended (with or without error, after any replay retries)
	Deduplicated uint64 // sightings folded into another event by dedup
	DedupEvicted uint64 // held events released unpaired early because of DedupOptions.MaxPending
	TooLarge     uint64 // publishes refused for Options.MaxEventBytes
	// JournalErrors counts appends of durable events that failed; their
	// publishers got the error and the events went nowhere.
	JournalErrors uint64
	// RecentIDsEvicted counts durable and replicated publish IDs
	// forgotten because of Options.RecentIDs.
	RecentIDsEvicted uint64
	// Replicated counts replicated publishes the coordinator committed;
	// ReplicationErrors those it refused or whose outcome stayed unknown
	// (their publishers got the error).
	Replicated, ReplicationErrors uint64
	// RemoteDenied counts committed events from other nodes that
	// Options.RemotePrincipal may not publish, and RemoteInvalid those
	// that failed semevent.Event.Validate: this node delivered neither.
	RemoteDenied, RemoteInvalid uint64
	// Unrouted is the number of live subscriptions that no rule of
	// Options.Router names (when the router can list its destinations):
	// they get no events. Each is reported once to OnError.
	Unrouted int
	// Retries and DeadLettered sum those of the replaying subscriptions.
	Retries, DeadLettered uint64
	Dropped               DropStats
	Errors                uint64 // handler calls that returned an error
	Panics                uint64 // handler calls that panicked (recovered)

	Boundaries [semevent.NumBoundaries]BoundaryStats
	// Subscriptions lists the live subscriptions and those that Close
	// ended, by name; totals of unsubscribed ones stay in the counters
	// above.
	Subscriptions []SubscriptionStats
	Latency       LatencyStats // publish → handler start, all subscriptions
}

// DropStats counts every event a subscription did not get, by reason.
type DropStats struct {
	Full         uint64 // DropNewest: the buffer was full
	Evicted      uint64 // DropOldest: pushed out by a newer event
	Unsubscribed uint64 // still buffered when the subscription ended
	Closed       uint64 // still queued when Close gave up (its ctx ended)
}

// Total returns the sum of all reasons.
func (d DropStats) Total() uint64 { return d.Full + d.Evicted + d.Unsubscribed + d.Closed }

func (d *DropStats) add(o DropStats) {
	d.Full += o.Full
	d.Evicted += o.Evicted
	d.Unsubscribed += o.Unsubscribed
	d.Closed += o.Closed
}

// BoundaryStats describe one boundary's inbound queue.
type BoundaryStats struct {
	Published uint64 // events accepted at this boundary
	Depth     int    // events waiting in its queue now
}

// SubscriptionStats describe one subscription.
type SubscriptionStats struct {
	Name      string
	Matched   uint64
	Denied    uint64 // events the Authorizer kept from it
	Delivered uint64
	Dropped   DropStats
	Errors    uint64
	Panics    uint64
	Depth     int // events buffered now, all workers
	Latency   LatencyStats
	// Unrouted is set while no router rule names the subscription.
	Unrouted bool
	// Retries counts handler calls a replaying subscription repeated after
	// an error; DeadLettered the events it handed to Replay.DeadLetter.
	Retries, DeadLettered uint64
}

// LatencyStats summarise publish → handler-start latency of the timed
// events (see Options.LatencySample). Quantiles are upper bounds of
// histogram buckets, within 1/16 (6.25%) of the true value.
type LatencyStats struct {
	Count              uint64
	P50, P90, P99, Max time.Duration
}
