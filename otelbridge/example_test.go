package otelbridge_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/otelbridge"
	"github.com/vexfs/semevent/propagation"
)

func Example() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr := otelbridge.New(&otelbridge.Options{TracerProvider: tp})

	ctx := context.Background()
	bus, _ := propagation.New(nil)
	done := make(chan struct{})
	bus.Subscribe(tr.Handler(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		close(done)
		return nil
	})), nil)
	pub := tr.Publisher(bus)

	ctx, root := tp.Tracer("app").Start(ctx, "upload")
	pub.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/a"})
	root.End()
	<-done
	bus.Close(ctx)

	spans := exp.GetSpans()
	byID := map[string]string{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID().String()] = s.Name
	}
	for _, name := range []string{"upload", "publish fs.file.write", "process fs.file.write"} {
		for _, s := range spans {
			if s.Name == name {
				parent := byID[s.Parent.SpanID().String()]
				if parent == "" {
					parent = "-"
				}
				fmt.Printf("%s (parent %s, same trace %v)\n", s.Name, parent, s.SpanContext.TraceID() == root.SpanContext().TraceID())
			}
		}
	}
	// Output:
	// upload (parent -, same trace true)
	// publish fs.file.write (parent upload, same trace true)
	// process fs.file.write (parent publish fs.file.write, same trace true)
}
