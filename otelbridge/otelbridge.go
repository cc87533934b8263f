package otelbridge

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/propagation"
)

// ScopeName is the instrumentation scope of the tracer this package uses.
const ScopeName = "github.com/vexfs/semevent/otelbridge"

// SpanContext converts an event's W3C trace context to OpenTelemetry's,
// marked remote. An invalid tc gives an invalid span context.
func SpanContext(tc semevent.TraceContext) trace.SpanContext {
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID(tc.TraceID),
		SpanID:     trace.SpanID(tc.SpanID),
		TraceFlags: trace.TraceFlags(tc.Flags),
		Remote:     true,
	})
}

// TraceContext converts an OpenTelemetry span context to an event's W3C
// trace context (trace state is not carried).
func TraceContext(sc trace.SpanContext) semevent.TraceContext {
	return semevent.TraceContext{
		TraceID: semevent.TraceID(sc.TraceID()),
		SpanID:  semevent.SpanID(sc.SpanID()),
		Flags:   semevent.TraceFlags(sc.TraceFlags()),
	}
}

// Extract returns ctx carrying ev's trace context as the remote parent of
// the spans started from it. It returns ctx unchanged when ev has no valid
// trace context.
func Extract(ctx context.Context, ev *semevent.Event) context.Context {
	if !ev.Trace.IsValid() {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, SpanContext(ev.Trace))
}

// Inject writes the span context in ctx into ev.Trace. It leaves ev alone
// when ctx carries no valid span context. Call it only on an event you
// still own (before publishing it).
func Inject(ctx context.Context, ev *semevent.Event) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		ev.Trace = TraceContext(sc)
	}
}

// parent returns the context spans for ev start from: ctx when it carries
// a span (the caller's own span is the parent), otherwise ctx with ev's
// trace context as the remote parent.
func parent(ctx context.Context, ev *semevent.Event) context.Context {
	if ev == nil || trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	return Extract(ctx, ev)
}

// Options configure [New]. The zero value, and nil, mean defaults.
type Options struct {
	// TracerProvider makes the tracer. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Tracer records spans for the hops it wraps. It is safe for concurrent
// use.
type Tracer struct {
	tr trace.Tracer
}

// New returns a Tracer.
func New(opts *Options) *Tracer {
	tp := otel.GetTracerProvider()
	if opts != nil && opts.TracerProvider != nil {
		tp = opts.TracerProvider
	}
	return &Tracer{tr: tp.Tracer(ScopeName)}
}

func eventAttrs(ev *semevent.Event) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.system", "semevent"),
		attribute.String("messaging.destination.name", ev.TopicOrKind()),
		attribute.String("semevent.kind", ev.Kind.String()),
	}
	if !ev.ID.IsZero() {
		attrs = append(attrs, attribute.String("messaging.message.id", ev.ID.String()))
	}
	if ev.Tenant != "" {
		attrs = append(attrs, attribute.String("semevent.tenant", ev.Tenant))
	}
	return attrs
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// finish, deferred, ends span with *err, or on a panic marks the span and
// panics on.
func finish(span trace.Span, err *error) {
	if r := recover(); r != nil {
		span.SetStatus(codes.Error, "panic")
		span.End()
		panic(r)
	}
	end(span, *err)
}

// Publisher wraps p: each Publish starts a producer span "publish TOPIC"
// (parent: the span in ctx, else the event's trace context), writes the
// span's context into ev.Trace — so the event's trace context names the
// publish span and a delivery span becomes its child — and publishes with
// ctx carrying the span, which ends when p.Publish returns.
func (t *Tracer) Publisher(p semevent.Publisher) semevent.Publisher {
	return semevent.PublishFunc(func(ctx context.Context, ev *semevent.Event) error {
		ctx, span := t.tr.Start(parent(ctx, ev), "publish "+ev.TopicOrKind(),
			trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(eventAttrs(ev)...))
		Inject(ctx, ev)
		err := p.Publish(ctx, ev)
		end(span, err)
		return err
	})
}

// Handler wraps h: each delivery runs in a consumer span "process TOPIC"
// whose parent is the event's trace context (the publish span when the
// publisher was wrapped by [Tracer.Publisher]); h gets a ctx carrying it,
// so what h publishes through a wrapped Publisher is its child. The span
// records h's error, and a panic (re-raised for the bus to recover).
func (t *Tracer) Handler(h semevent.Handler) semevent.Handler {
	return semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) (err error) {
		ctx, span := t.tr.Start(Extract(ctx, ev), "process "+ev.TopicOrKind(),
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(eventAttrs(ev)...))
		defer finish(span, &err)
		return h.Handle(ctx, ev)
	})
}

// Journal wraps a bus's journal: each Append and AppendBatch records a span
// "journal commit" whose parent is the span in ctx, else the (first)
// event's trace context — the publish span, for a durable publish through
// a wrapped Publisher. A batch's span also links to every event's trace
// context, so each publish is tied to the commit that made it durable even
// when the bus commits the events of several traces together (it does:
// the dispatcher appends what it has gathered in one batch). Tail and
// Consume pass through.
func (t *Tracer) Journal(j propagation.Journal) propagation.Journal { return &journalTracer{t, j} }

type journalTracer struct {
	t *Tracer
	j propagation.Journal
}

func (jt *journalTracer) Append(ctx context.Context, ev *semevent.Event) (uint64, error) {
	ctx, span := jt.t.tr.Start(parent(ctx, ev), "journal commit", trace.WithAttributes(eventAttrs(ev)...))
	off, err := jt.j.Append(ctx, ev)
	if err == nil {
		span.SetAttributes(attribute.Int64("semevent.journal.offset", int64(off)))
	}
	end(span, err)
	return off, err
}

func (jt *journalTracer) AppendBatch(ctx context.Context, evs []*semevent.Event) (uint64, error) {
	var first *semevent.Event
	if len(evs) > 0 {
		first = evs[0]
	}
	links := make([]trace.Link, 0, len(evs))
	for _, ev := range evs {
		if ev.Trace.IsValid() {
			links = append(links, trace.Link{SpanContext: SpanContext(ev.Trace)})
		}
	}
	ctx, span := jt.t.tr.Start(parent(ctx, first), "journal commit", trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("semevent.journal.batch", len(evs))))
	off, err := jt.j.AppendBatch(ctx, evs)
	if err == nil {
		span.SetAttributes(attribute.Int64("semevent.journal.offset", int64(off)))
	}
	end(span, err)
	return off, err
}

func (jt *journalTracer) Tail(ctx context.Context, from uint64, fn func(uint64, *semevent.Event) error) error {
	return jt.j.Tail(ctx, from, fn)
}

func (jt *journalTracer) Consume(ctx context.Context, name string, fn func(uint64, *semevent.Event) error) error {
	return jt.j.Consume(ctx, name, fn)
}

// Step wraps a workflow step: each attempt of Do, and of Compensate, runs
// in a span "workflow step NAME" / "workflow compensate NAME" whose parent
// is the span in ctx, else the triggering event's trace context.
func (t *Tracer) Step(name string, s automation.Step) automation.Step {
	stepAttrs := func(sc *automation.StepContext) trace.SpanStartOption {
		return trace.WithAttributes(
			attribute.String("semevent.workflow.execution", sc.Execution),
			attribute.String("semevent.workflow.step", sc.Step),
			attribute.Int("semevent.workflow.attempt", sc.Attempt),
		)
	}
	if do := s.Do; do != nil {
		s.Do = func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
			ctx, span := t.tr.Start(parent(ctx, sc.Event), "workflow step "+name, stepAttrs(sc))
			res, err := do(ctx, sc)
			end(span, err)
			return res, err
		}
	}
	if comp := s.Compensate; comp != nil {
		s.Compensate = func(ctx context.Context, sc *automation.StepContext) error {
			ctx, span := t.tr.Start(parent(ctx, sc.Event), "workflow compensate "+name, stepAttrs(sc))
			err := comp(ctx, sc)
			end(span, err)
			return err
		}
	}
	return s
}
