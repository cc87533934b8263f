package coord

import (
	"context"
	"time"

	"github.com/vexfs/semevent"
)

// Coordinator orders events across nodes: it appends them to a replicated,
// totally ordered log per shard and lets every node read and follow the
// committed log. Events are spread over shards by a key (by default the
// tenant and path, see [semevent.PathKey]); events with the same key go to the same
// shard and keep their order there.
//
// All methods may be called concurrently. Handlers given to Subscribe may
// call Append, Read and Health, but not Close.
type Coordinator interface {
	// Append commits evs and returns the position of each, in the order
	// given, once every one is committed (for a replicated coordinator: on
	// a quorum of its shard). Events whose ID or Time is zero are stamped
	// first, so the caller sees the values that were committed. Append
	// takes ownership of the events: the caller must not modify them
	// after. The events that fall in one shard commit together, in one
	// proposal: all or none, contiguous in that shard's log, in the order
	// given. On error some shards' events may have been committed and
	// others not; the *[AppendError] says which, and wraps
	// [ErrOutcomeUnknown] when this node cannot know (retry with the same
	// IDs).
	Append(ctx context.Context, evs ...*semevent.Event) ([]Position, error)

	// Read returns up to max committed records of shard from index from on
	// (indexes start at 1; from 0 means 1; max <= 0 means no limit). The
	// read is linearizable: it sees every Append that returned before Read
	// was called. The records' events are shared and read-only.
	Read(ctx context.Context, shard int, from uint64, max int) ([]Record, error)

	// Subscribe calls h for every committed record of shard from index
	// from on, in order, one call at a time on a goroutine of its own, and
	// keeps following the log until Unsubscribe, until h returns an error, or
	// until the coordinator closes. Records reach a subscriber as soon as
	// this node has applied them, which may be before a linearizable Read
	// elsewhere would return them, never after.
	Subscribe(shard int, from uint64, h Handler) (Subscription, error)

	// Health reports this node's view of the cluster: every shard's leader
	// and progress, and every peer's liveness.
	Health(ctx context.Context) Health

	// Close stops the node: pending Appends fail with an error wrapping
	// semevent.ErrClosed, subscriptions end, resources are released.
	// Calling Close again returns nil.
	Close(ctx context.Context) error
}

// Position is where an event was committed: its shard and its index in that
// shard's log (from 1).
type Position struct {
	Shard int
	Index uint64
	// AlreadyCommitted reports that the event's ID was already committed
	// at Index and that this Append appended nothing for it: a retry of
	// an append whose outcome was unknown, or the same event given twice.
	// Coordinators remember the IDs of each shard's last DedupWindow
	// committed events (see [Options].DedupWindow); an ID older than
	// that is appended again.
	AlreadyCommitted bool
}

// Record is one committed event and its position.
type Record struct {
	Position
	Event *semevent.Event
	// Origin is the node whose Append proposed the event (coord.Local:
	// its own Node), so that a subscriber can tell its node's events
	// from other nodes'. 0 when unknown (a record written before origins
	// were kept).
	Origin uint64
}

// Handler receives committed records from a subscription.
type Handler interface {
	HandleRecord(ctx context.Context, rec Record) error
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, rec Record) error

// HandleRecord calls f(ctx, rec).
func (f HandlerFunc) HandleRecord(ctx context.Context, rec Record) error { return f(ctx, rec) }

// Subscription is one running Subscribe.
type Subscription interface {
	// Unsubscribe ends delivery without waiting; see Done. Safe to call more
	// than once and from the handler.
	Unsubscribe()
	// Done is closed once the handler has returned for the last time.
	Done() <-chan struct{}
	// Err returns what ended the subscription: the handler's error, or an
	// error wrapping semevent.ErrClosed; nil while running or after Unsubscribe.
	Err() error
}

// Membership is implemented by coordinators whose set of nodes can change
// while they run. See [AddNode], [RemoveNode] and [Members].
type Membership interface {
	// Members lists the nodes of every shard's group.
	Members(ctx context.Context) ([]Member, error)
	// AddNode adds node id, reachable at addr, to every shard. It fails
	// with [ErrDuplicateNode] when id is already a member.
	AddNode(ctx context.Context, id uint64, addr string) error
	// RemoveNode removes node id from every shard. It fails with
	// [ErrUnknownNode] when id is not a member.
	RemoveNode(ctx context.Context, id uint64) error
}

// AtomicAppender is implemented by coordinators that can commit a batch
// all or none. See [AppendAtomic].
type AtomicAppender interface {
	// AppendAtomic commits evs in one proposal, contiguous and in order,
	// or none of them. It fails with a *[CrossShardError] (wrapping
	// [ErrCrossShard]), before anything is proposed, when the events'
	// keys map to different shards. Otherwise it behaves as Append.
	AppendAtomic(ctx context.Context, evs ...*semevent.Event) ([]Position, error)
}

// AppendAtomic commits evs all or none through c's [AtomicAppender], or
// fails with [ErrUnsupported].
func AppendAtomic(ctx context.Context, c Coordinator, evs ...*semevent.Event) ([]Position, error) {
	if a, ok := c.(AtomicAppender); ok {
		return a.AppendAtomic(ctx, evs...)
	}
	return nil, ErrUnsupported
}

// OneShard returns the shard that every event of evs maps to among n
// shards by key, or a *[CrossShardError] naming two that differ. Shard 0
// for no events.
func OneShard(key semevent.KeyFunc, n int, evs []*semevent.Event) (int, error) {
	if n <= 1 || len(evs) == 0 {
		return 0, nil
	}
	s := ShardOf(key(evs[0]), n)
	for i, ev := range evs[1:] {
		if t := ShardOf(key(ev), n); t != s {
			return 0, &CrossShardError{First: 0, Other: i + 1, FirstShard: s, OtherShard: t}
		}
	}
	return s, nil
}

// Observers is implemented by coordinators that can add observers:
// nodes that follow every shard's log and serve reads and subscriptions
// locally, but never vote, so they never count towards a quorum. See
// [AddObserver].
type Observers interface {
	// AddObserver adds node id, reachable at addr, as an observer of
	// every shard; start that node as an observer (for coord/raft:
	// Options.Observer). It fails with [ErrDuplicateNode] when id is
	// already a member or an observer. RemoveNode removes an observer.
	AddObserver(ctx context.Context, id uint64, addr string) error
}

// AddObserver adds an observer through c's [Observers], or fails with
// [ErrUnsupported].
func AddObserver(ctx context.Context, c Coordinator, id uint64, addr string) error {
	if o, ok := c.(Observers); ok {
		return o.AddObserver(ctx, id, addr)
	}
	return ErrUnsupported
}

// Offsets is implemented by coordinators that keep named consumers'
// progress durably, per shard: a consumer that handled every record
// before index next commits next, and after a restart resumes its
// Subscribe from the committed next, with no gap and no duplicate. See
// [CommitOffset] and [CommittedOffset].
type Offsets interface {
	// CommitOffset records that consumer name has handled every record of
	// shard before index next. It returns once the offset is durable (as
	// durable as the coordinator's own records).
	CommitOffset(shard int, name string, next uint64) error
	// CommittedOffset returns the last next committed for name on shard,
	// and ok = false when none was.
	CommittedOffset(shard int, name string) (next uint64, ok bool, err error)
}

// CommitOffset commits a consumer's offset through c's [Offsets], or fails
// with [ErrUnsupported].
func CommitOffset(c Coordinator, shard int, name string, next uint64) error {
	if o, ok := c.(Offsets); ok {
		return o.CommitOffset(shard, name, next)
	}
	return ErrUnsupported
}

// CommittedOffset reads a consumer's offset through c's [Offsets], or
// fails with [ErrUnsupported].
func CommittedOffset(c Coordinator, shard int, name string) (uint64, bool, error) {
	if o, ok := c.(Offsets); ok {
		return o.CommittedOffset(shard, name)
	}
	return 0, false, ErrUnsupported
}

// Member is one node of a cluster.
type Member struct {
	ID   uint64
	Addr string
}

// Health is a node's view of its cluster, as [Coordinator.Health] reports
// it.
type Health struct {
	Node    uint64        // this node
	Shards  []ShardHealth // one per shard, by shard number
	Peers   []PeerHealth  // the other nodes, by id
	Healthy bool          // every shard has a leader and no peer is suspected
}

// ShardHealth is one shard's state as seen from a node.
type ShardHealth struct {
	Shard   int
	Leader  uint64 // 0 when no leader is known
	Term    uint64
	Applied uint64 // the index of the last record this node applied
	Members int    // voting members
	// Observers lists the shard's non-voting members by id, sorted, as
	// this node last learned them; nil when it has none.
	Observers []uint64
	// First is the index of the oldest record this node still holds
	// (1 until retention or a fresh start moves it). Read and Subscribe
	// from an earlier index fail with an error wrapping [ErrCompacted].
	First uint64
	// FreshStart reports that this node's replica of the shard fell
	// behind what the other nodes retain and restarted its log at First
	// from a snapshot: the records before First were never on this node
	// (coord/raft documents it). Never a silent hole: reads before First
	// fail, they do not skip.
	FreshStart bool
}

// PeerHealth is the failure detector's opinion of another node.
type PeerHealth struct {
	Node      uint64
	Phi       float64   // suspicion level, see [Detector]
	Suspected bool      // Phi is at or above the detector's threshold
	LastSeen  time.Time // last heartbeat, zero if never
}

// AddNode adds a node through c's [Membership], or fails with
// [ErrUnsupported].
func AddNode(ctx context.Context, c Coordinator, id uint64, addr string) error {
	if m, ok := c.(Membership); ok {
		return m.AddNode(ctx, id, addr)
	}
	return ErrUnsupported
}

// RemoveNode removes a node through c's [Membership], or fails with
// [ErrUnsupported].
func RemoveNode(ctx context.Context, c Coordinator, id uint64) error {
	if m, ok := c.(Membership); ok {
		return m.RemoveNode(ctx, id)
	}
	return ErrUnsupported
}

// Members lists c's nodes through its [Membership]; a coordinator without
// one is a single node, reported as node 1 (or the node its Health names).
func Members(ctx context.Context, c Coordinator) ([]Member, error) {
	if m, ok := c.(Membership); ok {
		return m.Members(ctx)
	}
	n := c.Health(ctx).Node
	if n == 0 {
		n = 1
	}
	return []Member{{ID: n}}, nil
}

// ShardOf returns the shard of key among n shards: its
// [semevent.Key.Hash] modulo n, the same in every process.
func ShardOf(key semevent.Key, n int) int {
	if n <= 1 {
		return 0
	}
	return int(key.Hash() % uint64(n))
}
