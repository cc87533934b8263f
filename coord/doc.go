// Package coord orders events across nodes and keeps shared state
// convergent: a replicated, totally ordered event log per shard behind the
// [Coordinator] interface, and the tools for state that many nodes update
// without coordination — CRDTs, vector and hybrid logical clocks, a
// phi-accrual failure detector, and Merkle-tree anti-entropy.
//
// [Local] is the default Coordinator: one node, every shard in memory,
// committed on return. It is also the fake for users' tests. The Raft
// implementation, on dragonboat, lives in the subpackage coord/raft, so
// that programs using Local, the CRDTs and the clocks never compile
// dragonboat. Both pass the same conformance suite, coord/coordtest.
//
// # Usage
//
// Append commits events and returns their positions; Read returns the
// committed log of a shard (linearizably); Subscribe follows it:
//
//	c, _ := coord.NewLocal(nil)
//	defer c.Close(ctx)
//	pos, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"})
//	recs, err := c.Read(ctx, pos[0].Shard, 1, 100)
//	sub, err := c.Subscribe(0, 1, coord.HandlerFunc(func(ctx context.Context, r coord.Record) error { … }))
//
// Events are spread over shards by [Options].Key (default
// [semevent.PathKey], the tenant and path, placed by [ShardOf]); events
// with the same key keep their order. The events of one Append that fall
// in one shard commit together, all or none, contiguous and in order
// (coordtest's OneShardContiguous); an [AtomicAppender] ([AppendAtomic])
// guarantees it for the whole call by refusing calls whose events span
// shards (coordtest's Atomic).
//
// Appends are exactly-once by event ID: each shard remembers the IDs of
// its last [Options].DedupWindow committed events (default
// [DefaultDedupWindow], count-based, so every replica holds the same
// window), and an event whose ID is among them is not appended again:
// Append reports it at the index where it was committed, with
// [Position].AlreadyCommitted set. A client whose Append ended with an
// unknown outcome retries with the same events (same IDs), on any node,
// and each is committed once (conformance: ExactlyOnce). Each [Record]
// names its Origin, the node whose Append proposed it. Coordinators that
// keep consumers' progress implement [Offsets] ([CommitOffset],
// [CommittedOffset]): coord.Local in memory (at most
// [Options].MaxConsumers names per shard), coord/raft in each node's shard
// journal. Optional abilities beside
// Coordinator: [Membership], [AtomicAppender], [Offsets], [Observers] (non-voting
// replicas, listed in [ShardHealth].Observers). Membership changes go through the
// optional [Membership] interface ([AddNode], [RemoveNode], [Members]
// assert for it). [Coordinator.Health] reports each
// shard's leader and every peer's liveness as a [Detector] sees it.
//
// State that every node updates — counters, registers, sets, maps — lives
// in CRDTs ([GCounter], [PNCounter], [LWWRegister], [ORSet], [LWWMap]) held
// by a [Store]; after a partition heals, [Store.Sync] with a peer walks both
// Merkle trees and exchanges only the keys that differ, and the replicas
// converge. [HLC] stamps timestamps that respect causality across nodes
// (the LWW types order writes by them); [VectorClock] tells happens-before
// from concurrent.
//
// # Concurrency
//
// Every Coordinator method may be called concurrently; a Subscribe handler
// runs on the subscription's goroutine, one record at a time, and may call
// anything but Close. [Store], [Detector] and [HLC] are safe for concurrent
// use. The CRDT values and [VectorClock] are plain values: guard them
// yourself, or keep them in a Store.
//
// # Errors
//
// An Append that fails part way returns an *[AppendError] naming the
// events known committed; when the coordinator cannot know the fate of the
// others it wraps [ErrOutcomeUnknown]: retry them with the same IDs. An
// atomic append ([AtomicAppender], [AppendAtomic]) whose events span
// shards gets a *[CrossShardError] ([ErrCrossShard]) and appends nothing.
// Operations on a closed coordinator return errors wrapping [ErrClosed]
// (itself wrapping semevent.ErrClosed). An event too large for a proposal
// gets a *[SizeError] ([ErrTooLarge]); a shard out of range a *[ShardError]
// ([ErrShardNotFound]); membership changes a *[NodeError] wrapping
// [ErrUnknownNode] or [ErrDuplicateNode]; a node started with the wrong
// members [ErrMembership]; a Read or Subscribe of an index a node no
// longer holds [ErrCompacted] (see [ShardHealth].First); a CommitOffset
// past the consumer cap [ErrTooManyConsumers]; invalid options a
// *[semevent.OptionsError].
// Invalid events fail with semevent's *EventError.
//
// # Testing
//
// Test code written against Coordinator with a [Local]: it records every
// appended event (Read them back), accepts membership changes, and fails on
// demand with [Local.FailNext]. coord/coordtest.TestCoordinator is the
// conformance suite every Coordinator passes; coordtest.Link is a [Peer]
// that can be cut and healed, to test anti-entropy across partitions. The
// CRDT laws are property tests (testing/quick) on random histories.
package coord
