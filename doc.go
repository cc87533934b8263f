// Package semevent captures, moves, routes, filters, coordinates, reacts to
// and analyses semantic events around a file system: a file was created,
// written or renamed, a vector was inserted, a rule fired.
//
// Events are observed at three boundaries — the kernel (fanotify/inotify),
// a FUSE server and userspace code calling the API — plus the remote nodes
// of a cluster. This root package holds what every other package shares:
// the [Event] value with its [Kind], [Boundary], time-ordered [ID], W3C
// [TraceContext], cause and attributes; the [Handler] that receives events;
// and the shared errors.
//
// # Packages
//
//	semevent                   the Event value, Kind, IDs, trace context, Key, Publisher, Closer, errors
//	filter                     Filter: typed predicates, expr conditions, rate limits, caching
//	routing                    Router: subject, path and content rules, groups, hot reload (Watch)
//	propagation                Propagator: the in-process bus (backpressure, order, dedup, stats)
//	propagation/journal        the durable, crash-safe event log
//	propagation/journal/since  "what changed since" a cursor, over a journal
//	access, access/audit       access control and the tamper-evident audit trail
//	coord, coord/raft          Coordinator: local and Raft-replicated order, CRDTs, clocks
//	automation                 Workflow: workflows, sagas, the executor, records
//	automation/rules           the rule engine (expr conditions, actions, hot reload)
//	automation/cep             complex event processing: sequences, windows, counts, absence
//	automation/breaker         circuit breakers
//	analytics                  Analyzer: windows, aggregates, anomalies, frequent sequences
//	analytics/sketch           mergeable sketches: HyperLogLog, DDSketch quantiles, top-k
//	analytics/health           component health checks served for /healthz
//	analytics/dashboard        a live HTML dashboard
//	analytics/promexport       Prometheus collectors for every component's stats
//	fusebridge                 FUSE and kernel capture, cross-boundary dedup, shared memory
//	examples/quickstart        a runnable tour: go run ./examples/quickstart
//
// Each package with an interface has a <pkg>test sibling with a fake and a
// conformance suite for users' own tests. Imports point one way: semevent
// ← filter ← routing ← propagation (and its journal) ← access, coord,
// automation, analytics ← fusebridge. A lower package that needs a higher
// one defines the small interface it calls: the bus takes a
// propagation.Authorizer, which *access.Authorizer implements.
//
// One name and one shape per concept across packages: event keys are
// [Key] and [KeyFunc]; options errors are *[OptionsError]; publishers take
// a [Publisher]; long-lived components are [Closer]s; subscriptions end
// with Unsubscribe(); rule files are read by ParseRuleSet(data) and hot
// reloaded by Watch(ctx, target, path, opts), whose Watcher stops with
// Close(ctx), in both routing and automation/rules.
//
// # Usage
//
//	bus, err := propagation.New(nil) // zero-config defaults
//	if err != nil {
//		return err
//	}
//	defer bus.Close(context.Background())
//
//	writes := filter.Func(func(ev *semevent.Event) bool {
//		return ev.Kind == semevent.KindFileWrite
//	})
//	_, err = bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
//		fmt.Println(ev.Path, ev.Size, ev.Trace.TraceID)
//		return nil
//	}), &propagation.SubscribeOptions{Name: "indexer", Filter: writes})
//	if err != nil {
//		return err
//	}
//
//	err = bus.Publish(ctx, &semevent.Event{
//		Kind:     semevent.KindFileWrite,
//		Boundary: semevent.FUSE,
//		Path:     "/data/a.txt",
//		Size:     4096,
//	})
//
// # Ownership
//
// Events travel by pointer, without copies: publishing hands the event over,
// and handlers must treat it as read-only because all subscribers share it.
// [Event.Clone] makes a private copy.
//
// # Lifecycle
//
// Every long-lived component — bus, journal, mount, watcher, bridge,
// engines, processors, coordinators, dashboards — is a [Closer]: it has
// one Close(ctx) error, safe to call twice, that waits for its goroutines
// or for ctx. Shut a pipeline down from the producers to the storage, so
// that nothing is published into a component already closed:
//
//  1. the FUSE mount (no new operations),
//  2. the kernel watcher,
//  3. the bridge that feeds the bus,
//  4. processors and engines (analytics, rules, CEP, workflows),
//  5. the bus (it drains what it holds and stops its workers),
//  6. the journal (last: the bus's durable publishes commit to it).
//
// [CloseAll] closes a list in the order given and joins the errors:
//
//	defer semevent.CloseAll(ctx, mount, watcher, bridge, engine, bus, journal)
//
// # Keys
//
// One [Key] type, with one stable [Key.Hash], keys every per-entity
// structure: dedup, shards, CEP partitions, workflow correlation, window
// groups, rate limits and consistent-hash routing. A Key always carries
// the event's tenant, so keyed state never mixes tenants. [PathKey] is the
// default everywhere.
//
// # Publishing from components
//
// Components that make events (engines, executors, analytics, the FUSE
// bridge) take a [Publisher]. When they publish into a bus they also
// listen to, each publish is bounded by a timeout ([DefaultPublishTimeout]
// unless configured; see [PublishTimeout]), so a full queue cannot make a
// handler wait for itself.
//
// # Errors
//
// Every package wraps the shared sentinels ([ErrClosed], [ErrNilEvent],
// [ErrNilHandler], [ErrInvalidEvent]) with %w, so errors.Is works across
// packages. Bad input yields a typed error that says what and where:
// [EventError] names the field, [ParseError] the byte position, and every
// constructor reports bad options as one [OptionsError] listing every
// problem, wrapping [ErrInvalidOptions].
//
// # Logging
//
// Every component that logs (the bus, the journal's recovery, fusebridge
// and its kernel watcher, coord/raft with dragonboat's own lines,
// automation and analytics) takes an optional Logger *slog.Logger in its
// Options, with one rule: nil means [log/slog.Default], read when the
// component is constructed; slog.New(slog.DiscardHandler) silences it.
// Lines carry structured attributes with the same keys in every package:
// "component" (bus, journal, fusebridge, kwatch, dragonboat,
// automation, cep, analytics), "err", "subscription", "segment",
// "offset", "tenant", "event", "path", "rule", "workflow", "step",
// "reason", "count" and "total". A line that could repeat once per event
// (a dropped event, a refused far-future event) is logged the first
// time, then at most once every 10s as a summary whose "count" says how
// many it stands for; nothing is formatted or allocated per event when
// the logger's level leaves it out.
package semevent
