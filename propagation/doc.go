// Package propagation delivers events in process: publishers hand events to
// a [Propagator], which offers each to every subscription whose filter
// matches, with backpressure, ordering, deduplication across boundaries and
// exact statistics.
//
// # Usage
//
// [New] returns the default Propagator, a [Bus]; a nil *[Options] gives a
// working bus:
//
//	bus, err := propagation.New(nil)
//	if err != nil { ... }
//	defer bus.Close(ctx)
//
//	sub, err := bus.Subscribe(handler, &propagation.SubscribeOptions{
//		Name:   "indexer",
//		Filter: writesUnderData, // any filter.Filter
//		Policy: propagation.DropOldest,
//	})
//	...
//	err = bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a"})
//
// # How events flow
//
// Each [semevent.Boundary] has its own bounded inbound queue. One dispatcher
// goroutine serves the queues in turn, at most Options.Quantum events from
// each before moving on, so a flood at one boundary (a kernel watcher
// reporting a million writes) cannot starve the others. For every event it
// runs each subscription's tenant check and filter and puts the event in
// the buffer of one of the subscription's workers, which call the handler.
//
// Events travel by pointer and are never copied: the publisher hands the
// event over and must not modify it after Publish; handlers share it and
// must treat it as read-only (see [semevent.Event.Clone]). Publish assigns
// ID and Time when they are zero. In steady state, publishing and
// delivering allocate nothing, except that deduplication allocates once per
// folded pair (the other sighting appended to Observed).
//
// # Delivery guarantees
//
//   - Each subscription gets each matching event at most once, and exactly
//     once unless it is dropped by its policy, and every drop is counted by
//     reason in [Stats]: delivered + dropped = matched, always.
//   - Order: events published by one goroutine at one boundary reach a
//     single-worker subscription in publish order. With Workers > 1 the order
//     holds per key (SubscribeOptions.Key, by default semevent.PathKey:
//     the tenant and path).
//   - Backpressure is per subscription: [Block] (the default) makes the
//     dispatcher wait for room, and once the inbound queue fills, Publish
//     waits too, until its ctx ends; [DropNewest] and [DropOldest] never
//     wait.
//   - Events whose Tenant differs from SubscribeOptions.Tenant are never
//     offered to that subscription.
//   - Every field of the event, trace context, cause and attributes
//     included, reaches the handler unchanged; the conformance suite checks
//     this on random events.
//   - A panicking handler or filter is recovered, counted (Stats.Panics) and
//     reported to Options.OnError; delivery goes on.
//
// # Deduplication
//
// With Options.Dedup set, the same operation observed at two boundaries
// (a create through a FUSE mount is also seen by a kernel watcher on the
// backing directory) becomes one event: the sighting from the boundary with
// the most context (FUSE, then userspace, remote, kernel) is kept,
// [semevent.Event.Seen] lists every boundary and [semevent.Event.Observed]
// the other sightings. The defaults suit the FUSE bridge: [OperationKey]
// keys creates, deletes, renames, directory operations and write-session
// summaries by tenant, kind and paths (never offset or size), and
// [DefaultDedupWindow] is 500ms.
//
// Two sightings fold when their keys are equal — so they belong to the
// same tenant: sightings of different tenants never fold — and their
// publish stamps (Options.Clock, read by Publish) are at most
// DedupOptions.Window apart. Dedup is exact whatever the backlog: an
// unpaired event leaves only once the dispatcher has taken every event
// the other boundaries stamped before the end of its window, however long
// the queues are. While an event waits, the dispatcher sleeps on a timer
// set for the end of the earliest window; it does not spin. Events leave
// in order per boundary, so one that waits holds back the later events of
// its own boundary only. At most DedupOptions.MaxPending events are held;
// past it the oldest leaves unpaired, counted in Stats.DedupEvicted.
//
// # Routing
//
// With Options.Router (a *routing.Table, or any [Router]), the bus offers
// each event only to the subscriptions named by the router's decision, and
// their filters and tenants still apply. A Table reloads its rules while
// the bus runs; each event is routed wholly by the old or wholly by the new
// rules. When the router lists its destinations (a Table does), a
// subscription that no rule names is counted in Stats.Unrouted and
// reported once to Options.OnError as an *[UnroutedError], at Subscribe
// or after the reload that dropped it.
//
// # Access control
//
// With Options.Authorizer, every Publish needs a principal in its ctx that
// may publish the event, a subscription needs SubscribeOptions.Principal,
// allowed to subscribe (or replay) at all, and each event is offered only
// to the subscriptions whose principal may see it. The bus calls the small
// [Authorizer] interface it defines (CheckPublish, SubscribeChecker), which
// *access.Authorizer implements: this package does not import access.
//
// # Durability and replay
//
// With Options.Journal (a *journal.Journal from package propagation/journal),
// a publish can be [Durable]: the dispatcher appends the event to the
// journal as live subscribers see it — after dedup folded it, with its
// Seen and Observed — committing the durable events it takes in one round
// with one append, and offers them to the live subscriptions only once
// committed; events behind a durable one in that round wait for the same
// commit. Publish returns nil once the event is committed; it returns an
// error wrapping [ErrOutcomeUnknown] if its ctx ends before the bus knows,
// and the journal's error (the event then goes nowhere) if the append
// failed. The bus remembers the IDs of the last Options.RecentIDs durable
// publishes (loading those of the journal's last records at New), so
// publishing an event again with the same ID is idempotent: it returns the
// first outcome, waiting for it if needed, and appends nothing. A folded
// event is journaled when any of its sightings was published durably; a
// durable Publish at a deduplicated boundary therefore returns once its
// twin has come or its window has ended (DedupOptions.Window).
// Options.Durability sets the default level, [WithDurability] the level
// of one call; [Replicated] is the third level (see Cluster). Durable
// publishes allocate (a commit record per event).
//
// A subscription with [Replay] reads the journal instead of the live
// stream: it gets the durable events from an offset on, or from a named
// consumer's committed offset (at-least-once across restarts), then
// follows new ones as they commit. A consumer name belongs to the
// subscriber's tenant: tenants naming the same consumer get separate
// offsets. A replayed event whose handler fails is retried with backoff,
// then handed to Replay.DeadLetter, or else the subscription stops there
// without committing it, as Journal.Consume does (see [Replay]).
//
// # Cluster
//
// With Options.Coordinator (a coord.Coordinator: a coord/raft Coordinator
// per node in production, coord.Local on one machine) the bus is one node
// of a cluster, and a publish can be [Replicated]:
//
//	c, err := raft.New(&raft.Options{Node: 1, Dir: dir, Members: members})
//	...
//	bus, err := propagation.New(&propagation.Options{
//		Coordinator: c,
//		Durability:  propagation.Replicated,
//		Dedup:       &propagation.DedupOptions{}, // FUSE + kernel, folded before replication
//	})
//	...
//	err = bus.Publish(ctx, ev) // nil once a quorum committed ev
//
// What holds, and the tests that show it (TestCluster… in this package):
//
//   - A Replicated Publish passes deduplication first (what is replicated
//     is the event as subscribers see it, with its Seen and Observed),
//     then the bus's replicator appends it — concurrent publishes grouped
//     into one Append — and Publish returns nil once the coordinator
//     committed it; the coordinator's error in a *[ReplicateError] if it
//     refused it (delivered nowhere); an *[OutcomeUnknownError] (wrapping
//     [ErrOutcomeUnknown]) if ctx ended first. A retry with the same event
//     is idempotent on this bus (Options.RecentIDs), and across nodes when
//     the coordinator remembers committed IDs (coord/raft does).
//     (TestClusterOutcomeUnknown, TestClusterCoordinatorError)
//   - A Replicated PublishBatch none of whose events take part in dedup
//     is appended as one unit, with AppendAtomic when the coordinator has
//     it (all or none, in one proposal; a batch whose events map to
//     several shards fails with the coordinator's *coord.CrossShardError
//     before anything is proposed), else with one Append, which commits
//     the events of one shard together. Every node's subscribers see the
//     batch contiguous and in order. (TestClusterBatchContiguous,
//     TestClusterBatchCrossShard) A batch with events at deduplicated
//     boundaries (the FUSE bridge's) is not atomic: each event is folded,
//     then replicated, as by Publish. (TestClusterDedupBatch)
//   - The bus follows every shard of the coordinator from what this node
//     had applied at New and hands every committed record to the
//     dispatcher through the Remote queue, one queue for all shards, so
//     each shard's order is kept. Routing, filters, tenants, access
//     control and dedup then apply as to local events; events that the
//     subscriptions of this node see are offered to each once, each
//     shard in commit order, and in the same order on every node.
//     (TestClusterRouting, TestClusterFiltersAndTenants,
//     TestClusterAccessControl, TestClusterDedup, TestClusterRaft)
//   - This node's own events (coord.Record.Origin is this node; from a
//     coordinator that records no origin, the IDs this bus published:
//     TestClusterUnknownOrigin) are delivered once, when they come back committed — not at Publish —
//     unchanged. Another node's arrive as a copy with Boundary Remote,
//     Remote added to Seen and the original sighting (ID, Boundary, Time,
//     PID) appended to Observed; every other field, trace context, cause
//     and attributes included, is as published (semevent.Diff shows only
//     Boundary, Seen and Observed). (TestClusterRemoteBoundary,
//     TestClusterRaft)
//   - Access control: with Options.Authorizer, a remote event enters only
//     if Options.RemotePrincipal (required then; the Authorizer must be a
//     [PrincipalBinder]) may publish it — the others are counted in
//     Stats.RemoteDenied — and each subscription's principal still decides
//     what it sees. This node's own events were checked at Publish.
//   - Dedup: with Remote among DedupOptions.Boundaries, a remote event and
//     a local sighting of the same operation (a shared file system) fold.
//     A replicated sighting still on its way to the coordinator never
//     folds with another node's event.
//   - Backpressure: when this node's subscriptions are slow, the
//     followers wait for room in the Remote queue; the log keeps the rest.
//     Publishers on other nodes are not held back: they return at commit.
//     (TestClusterSlowSubscriberBacklog)
//   - Sync waits until every record this node's coordinator had applied at
//     the call, and every record this bus committed, has been delivered.
//   - Close stops following the coordinator: records committed but not yet
//     taken are not delivered by this bus (they stay in the log for
//     replicated replays); replicated publishes already handed to the
//     replicator are appended before Close returns, unless its ctx ends.
//   - The live stream is not durable: a bus started again delivers what
//     its node applies from then on (after a restart, a node still catching
//     up delivers the records it applies, some of which it may have
//     delivered before it stopped).
//
// A subscription with Replay.Replicated reads the coordinator's log
// instead: every shard from Replay.From, or, with Replay.Consumer, from
// the offsets the coordinator keeps for that consumer (coord.Offsets;
// without them Subscribe fails with [ErrNoOffsets]). The handler gets one
// event at a time, each shard in order, shards interleaved, as this node
// sees them (Remote for other nodes'), and [ReplicatedPosition] gives the
// position from its ctx. The consumer's offset of a shard is committed
// after 256 handled records of that shard, at most 100ms (plus a tick)
// after a record was handled, and when the subscription ends
// (Unsubscribe, Close, or its handler failing for good, which commits
// nothing past the failed record). So after a clean stop a new
// subscription with the same consumer resumes with no gap and no
// duplicate (TestClusterConsumerResumes, TestClusterRaft); after a crash
// it resumes from the last commit: at least once, the events handled
// since the last commit (at most 256 per shard, or 100ms' worth) again,
// each with its position, so a handler that records the last position it
// applied can skip them (TestClusterProcessKills: node processes SIGKILLed
// while publishing; every acknowledged event once in every node's
// consumer, no gap, the same sequence per shard on every node).
// (TestClusterConsumerTenants: consumer names belong to the tenant, as
// for the journal.)
// A shard the coordinator can no longer serve from the consumer's offset
// (coord/raft's retention: coord.ErrCompacted) ends the replay with that
// error, reported to Options.OnError; nothing is skipped silently
// (TestClusterConsumerCompacted).
//
// Stats: Replicated and ReplicationErrors count this bus's replicated
// publishes by outcome; Boundaries[Remote].Published counts the committed
// records taken from the coordinator, this node's included, so a
// replicated publish counts twice in Published (at its boundary, and when
// it comes back); RemoteDenied and RemoteInvalid count the remote events
// not delivered.
//
// One coordinator Append is in flight per bus at a time: the replicated
// publishes that arrive meanwhile wait in the replicator (at most the
// publishes in flight: each Publish waits for its commit) and go in the
// next Append, so throughput is about the group size over the commit
// latency, and events keep the order in which the dispatcher handed them
// over. BenchmarkClusterPublish compares the bus with the coordinator's
// own Append.
//
// Replicated publishes allocate a commit record per event; every remote
// event is a copy, one allocation with its Observed when it has fewer
// than four sightings (TestRemoteViewAllocs).
//
// # Waiting for delivery
//
// [Bus.Sync] (and [Sync] for any Propagator) returns once every event
// published before it has been handled by the live subscriptions,
// without closing the bus; events held by dedup are waited for.
//
// # Concurrency
//
// Every method of [Bus] may be called concurrently. A handler may publish,
// subscribe and unsubscribe (itself included). A handler that publishes to
// its own bus under the Block policy can deadlock once the queues between
// it and itself are full; give such a Publish a ctx with a deadline, or
// use a drop policy. Close waits for handlers to return; it must not be
// called from a handler of the same bus.
//
// # Errors
//
// Publish returns errors wrapping [semevent.ErrClosed] after Close,
// [semevent.ErrNilEvent], a *[semevent.EventError] for an invalid event,
// an *[EventTooLargeError] for one above Options.MaxEventBytes (1 MiB by
// default, counted by [EventBytes]), ctx's error when it had to wait for
// room and ctx ended (the event was not accepted), and for a durable
// publish an *[OutcomeUnknownError] or the journal's error (see
// Durability), for a replicated one an *[OutcomeUnknownError] or a
// *[ReplicateError] (see Cluster), and [ErrNoCoordinator] on a bus
// without a coordinator. Subscribe returns [semevent.ErrNilHandler],
// [ErrConsumerName] or a *[semevent.OptionsError]. Handler errors do not stop
// live delivery: they are counted and passed to Options.OnError as
// *[HandlerError]; OnError also gets an *[UnroutedError] once for a
// subscription no router rule names, and a *[ReplayError] when a replay
// stops.
//
// # Time
//
// Options.Clock is the bus's only time source for dedup windows, its
// timers and replay backoff; propagationtest.Clock is a fake for tests.
//
// # Testing
//
// Package [github.com/vexfs/semevent/propagation/propagationtest] has a
// synchronous, recording fake Propagator for tests of code that publishes
// or subscribes, and TestPropagator, the conformance suite that the fake
// and [Bus] both pass. To test code against a cluster without Raft,
// coord/coordtest.Shared makes several nodes of one coord.Local: a bus
// per node view behaves as a node (its own events at commit, the others'
// as Remote); see ExampleOptions_cluster.
package propagation
