// Package otelbridge connects semevent to OpenTelemetry tracing. It is the
// only semevent package that imports go.opentelemetry.io/otel: the others
// carry a W3C trace context on every event ([semevent.TraceContext]) and
// nothing more, so importing them does not pull in OpenTelemetry
// (TestNoOpenTelemetryBelow checks every package with go list).
//
// # Usage
//
//	tr := otelbridge.New(nil) // the global TracerProvider
//	bus, _ := propagation.New(&propagation.Options{
//		Journal:    tr.Journal(j), // a span per journal commit
//		Durability: propagation.Durable,
//	})
//	pub := tr.Publisher(bus)                  // a span per publish
//	bus.Subscribe(tr.Handler(h), nil)         // a span per delivery
//	step := tr.Step("index", automation.Step{Do: index}) // a span per step attempt
//	c = tr.Coordinator(c) // coord/raft: a span per replication, one per record applied on each node
//
// [Extract] puts an event's trace context into a context.Context as the
// remote parent; [Inject] writes a context's span into an event.
//
// # Spans
//
//   - publish TOPIC (producer): parent is the span in ctx, else the event's
//     trace context. The wrapper writes the publish span's context into
//     ev.Trace before handing the event on, so what the event carries from
//     then on (into the journal, to subscribers, to other nodes) names the
//     publish span: the trace id is kept, the span id is the publish's.
//
//   - process TOPIC (consumer): parent is the event's trace context; the
//     handler runs with the span in its ctx, so its own publishes are
//     children of the delivery.
//
//   - journal commit: one per Append or AppendBatch; parent is the span
//     in ctx, else the (first) event's trace context — the publish span.
//     A batch's span links to every event's trace context: the bus
//     commits the durable events it has gathered, of several traces, in
//     one append, and the links tie each publish to the commit that made
//     it durable.
//
//   - workflow step NAME / workflow compensate NAME: one per attempt;
//     parent is the span in ctx, else the triggering event's trace context
//     (the executor does not carry the delivery's ctx into steps).
//
//   - replicate: one per coordinator Append (a Raft commit for
//     coord/raft); parent is the span in ctx, else the first event's trace
//     context; links to every event's trace context.
//
//   - apply TOPIC (consumer): one per record a wrapped coordinator's
//     subscription receives, on every node; parent is the record's event's
//     trace context, so the publisher's trace continues on the other nodes.
//     (The wrappers never modify events they are handed, so apply is a
//     child of the publish span, not of replicate.)
//
// Errors are recorded on the span (status Error); a panicking handler's
// span is marked and ended, and the panic goes on.
//
// # Guarantees, as tested
//
// TestPipeline runs 50 three-hop pipelines concurrently through a real bus
// with durable publishing into a real journal (request → publish → journal
// commit → delivery → publish → journal commit → delivery → workflow
// step) with the SDK's in-memory exporter: exactly 6 spans per pipeline
// besides the commits (none lost), one trace id per pipeline, every parent
// as listed above; every publish is linked by exactly one commit span and
// the commits' batch sizes add up to the 100 events (one run: 52 appends);
// the journaled events carry their pipeline's trace id. TestReplication
// appends 20 traced events through a wrapped three-node Raft cluster and
// follows the shard on all three nodes: per trace one replicate span
// (child of the caller's span) and three apply spans (children of the
// event's trace context), none lost.
//
// # Concurrency
//
// A [Tracer] and everything it returns are safe for concurrent use.
package otelbridge
