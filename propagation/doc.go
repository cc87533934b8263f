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
//     holds per key (SubscribeOptions.Key, by default the path).
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
// (a write through a FUSE mount is also seen by a kernel watcher on the
// backing directory) becomes one event: the sighting from the boundary with
// the most context (FUSE, then userspace, remote, kernel) is kept,
// [semevent.Event.Seen] lists every boundary and [semevent.Event.Observed]
// the other sightings. An event waits at most DedupOptions.Window for its
// twin; events leave in order per boundary, so one that waits holds back
// the later events of its own boundary only.
//
// # Routing
//
// With Options.Router (a *routing.Table, or any [Router]), the bus offers
// each event only to the subscriptions named by the router's decision, and
// their filters and tenants still apply. A Table reloads its rules while
// the bus runs; each event is routed wholly by the old or wholly by the new
// rules.
//
// # Durability and replay
//
// With Options.Journal (a *journal.Journal from package propagation/journal),
// a publish can be [Durable]: Publish returns once the event is committed
// to the journal under its sync policy, and only then offers it to the live
// subscriptions; a journal error is returned and the event goes nowhere.
// Options.Durability sets the default level, [WithDurability] the level of
// one call. A subscription with [Replay] reads the journal instead of the
// live stream: it gets the durable events from an offset on, or from a
// named consumer's committed offset (at-least-once across restarts), then
// follows new ones as they commit.
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
// or ctx's error when it had to wait and ctx ended. Subscribe returns
// [semevent.ErrNilHandler] or a *[semevent.OptionsError]. Handler errors do not
// stop delivery: they are counted and passed to Options.OnError as
// *[HandlerError].
//
// # Testing
//
// Package [github.com/vexfs/semevent/propagation/propagationtest] has a
// synchronous, recording fake Propagator for tests of code that publishes
// or subscribes, and TestPropagator, the conformance suite that the fake
// and [Bus] both pass.
package propagation
