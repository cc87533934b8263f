package otelbridge

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

// Coordinator wraps c: each Append records a span "replicate" (parent:
// the span in ctx, else the first event's trace context; links to every
// event's trace context) that ends when the events are committed — by a
// Raft quorum for coord/raft — and each record a subscription receives
// runs in a consumer span "apply TOPIC" whose parent is the record's
// event's trace context, so a record replicated to another node continues
// the publisher's trace there. Read, Health and Close pass through; a c
// that implements coord.Membership keeps it.
func (t *Tracer) Coordinator(c coord.Coordinator) coord.Coordinator {
	ct := &coordTracer{t: t, Coordinator: c}
	if m, ok := c.(coord.Membership); ok {
		return &memberCoordTracer{coordTracer: ct, Membership: m}
	}
	return ct
}

type coordTracer struct {
	t *Tracer
	coord.Coordinator
}

type memberCoordTracer struct {
	*coordTracer
	coord.Membership
}

func (ct *coordTracer) Append(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	var first *semevent.Event
	links := make([]trace.Link, 0, len(evs))
	for _, ev := range evs {
		if first == nil {
			first = ev
		}
		if ev.Trace.IsValid() {
			links = append(links, trace.Link{SpanContext: SpanContext(ev.Trace)})
		}
	}
	ctx, span := ct.t.tr.Start(parent(ctx, first), "replicate", trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("semevent.replicate.batch", len(evs))))
	pos, err := ct.Coordinator.Append(ctx, evs...)
	if err == nil && len(pos) > 0 {
		span.SetAttributes(attribute.Int("semevent.replicate.shard", pos[0].Shard), attribute.Int64("semevent.replicate.index", int64(pos[0].Index)))
	}
	end(span, err)
	return pos, err
}

func (ct *coordTracer) Subscribe(shard int, from uint64, h coord.Handler) (coord.Subscription, error) {
	return ct.Coordinator.Subscribe(shard, from, coord.HandlerFunc(func(ctx context.Context, rec coord.Record) (err error) {
		ctx, span := ct.t.tr.Start(Extract(ctx, rec.Event), "apply "+rec.Event.TopicOrKind(),
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(eventAttrs(rec.Event)...),
			trace.WithAttributes(attribute.Int("semevent.replicate.shard", rec.Shard), attribute.Int64("semevent.replicate.index", int64(rec.Index))))
		defer finish(span, &err)
		return h.HandleRecord(ctx, rec)
	}))
}
