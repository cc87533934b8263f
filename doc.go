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
//	semevent              the Event value, IDs, trace context, Handler, errors
//	filter                Filter: typed predicates and expr conditions
//	routing               Router: subject, path and content rules with hot reload
//	propagation           Propagator: the in-process bus (backpressure, order, dedup, stats)
//	propagation/journal   the durable, crash-safe event log
//	access, access/audit  access control and the tamper-evident audit trail
//	coord, coord/raft     Coordinator: local and Raft-replicated order, CRDTs, clocks
//	automation/…          Workflow: sagas; rules (rule engine), cep (complex events), breaker
//	analytics             Analyzer: windows, sketches, anomalies, metrics, dashboard
//	fusebridge            FUSE and kernel capture, cross-boundary dedup
//	examples/quickstart   a runnable tour: go run ./examples/quickstart
//
// Each package with an interface has a <pkg>test sibling with a fake and a
// conformance suite for users' own tests.
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
package semevent
