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
//   - process TOPIC (consumer): parent is the event's trace context; the
//     handler runs with the span in its ctx, so its own publishes are
//     children of the delivery.
//   - journal commit: parent is the span in ctx (the publish, for a
//     durable publish), else the event's trace context.
//   - workflow step NAME / workflow compensate NAME: one per attempt;
//     parent is the span in ctx, else the triggering event's trace context
//     (the executor does not carry the delivery's ctx into steps).
//
// Errors are recorded on the span (status Error). Replication through
// coord/raft has no span yet.
//
// # Guarantees, as tested
//
// TestPipeline runs 50 three-hop pipelines concurrently through a real bus
// with durable publishing into a real journal (request → publish → journal
// commit → delivery → publish → journal commit → delivery → workflow
// step) with the SDK's in-memory exporter: exactly 8 spans per pipeline
// (none lost), one trace id per pipeline, every parent as listed above,
// and the journaled events carry the pipeline's trace id.
//
// # Concurrency
//
// A [Tracer] and everything it returns are safe for concurrent use.
package otelbridge
