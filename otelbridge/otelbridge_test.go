package otelbridge_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/otelbridge"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newTracer(t *testing.T) (*otelbridge.Tracer, *tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return otelbridge.New(&otelbridge.Options{TracerProvider: tp}), exp, tp
}

// TestRoundTrip checks Extract and Inject against each other and the W3C
// fields.
func TestRoundTrip(t *testing.T) {
	tc := semevent.TraceContext{TraceID: semevent.TraceID{1, 2, 3}, SpanID: semevent.SpanID{4, 5}, Flags: semevent.FlagSampled}
	ctx := otelbridge.Extract(context.Background(), &semevent.Event{Trace: tc})
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsValid())
	require.True(t, sc.IsRemote())
	require.Equal(t, tc.TraceID.String(), sc.TraceID().String())
	require.Equal(t, tc.SpanID.String(), sc.SpanID().String())
	require.True(t, sc.IsSampled())
	var ev semevent.Event
	otelbridge.Inject(ctx, &ev)
	require.Equal(t, tc, ev.Trace)
	// No trace context: nothing changes either way.
	require.Equal(t, context.Background(), otelbridge.Extract(context.Background(), &semevent.Event{}))
	ev = semevent.Event{Trace: tc}
	otelbridge.Inject(context.Background(), &ev)
	require.Equal(t, tc, ev.Trace)
}

// TestPipeline runs 50 three-hop pipelines concurrently through a real bus
// with durable publishing into a real journal: a root span publishes an
// event; the bus commits it to the journal and delivers it to a handler
// that publishes a second event; the bus commits and delivers that to an
// automation executor whose workflow step runs. Every pipeline must come
// out as one trace of exactly 8 spans with the right parents, and no span
// may be lost.
func TestPipeline(t *testing.T) {
	const n = 50
	tr, exp, tp := newTracer(t)
	ctx := context.Background()
	j, err := journal.Open(t.TempDir(), nil)
	require.NoError(t, err)
	defer j.Close(context.Background())
	bus, err := propagation.New(&propagation.Options{Journal: tr.Journal(j), Durability: propagation.Durable})
	require.NoError(t, err)
	pub := tr.Publisher(bus)

	flow, err := automation.NewFlow(automation.Flow{
		Name:  "index",
		When:  `Kind == "write"`,
		Steps: []automation.Node{automation.Task("index", tr.Step("index", automation.Step{Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) { return nil, nil }}))},
	})
	require.NoError(t, err)
	ex, err := automation.NewExecutor(&automation.ExecutorOptions{Workflows: []automation.Workflow{flow}})
	require.NoError(t, err)

	// Hop 2: creates republish as writes, in the handler's context.
	_, err = bus.Subscribe(tr.Handler(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if ev.Kind != semevent.KindFileCreate {
			return nil
		}
		return pub.Publish(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: ev.Path, Cause: ev.ID})
	})), &propagation.SubscribeOptions{Name: "republish", Filter: kind(semevent.KindFileCreate)})
	require.NoError(t, err)
	// Hop 3: writes go to the workflow executor.
	var mu sync.Mutex
	var writes []*semevent.Event
	_, err = bus.Subscribe(tr.Handler(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if ev.Kind != semevent.KindFileWrite {
			return nil
		}
		mu.Lock()
		writes = append(writes, ev)
		mu.Unlock()
		return ex.Handle(ctx, ev)
	})), &propagation.SubscribeOptions{Name: "workflows", Filter: kind(semevent.KindFileWrite)})
	require.NoError(t, err)

	roots := map[trace.TraceID]trace.SpanID{}
	var wg sync.WaitGroup
	var rootsMu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, root := tp.Tracer("test").Start(ctx, "request")
			rootsMu.Lock()
			roots[root.SpanContext().TraceID()] = root.SpanContext().SpanID()
			rootsMu.Unlock()
			err := pub.Publish(rctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: fmt.Sprintf("/data/f%d", i)})
			root.End()
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(writes) == n
	}, 20*time.Second, time.Millisecond, "second hop")
	require.NoError(t, bus.Close(ctx))
	mu.Lock()
	require.Len(t, writes, n)
	for _, ev := range writes {
		id := automation.ExecutionID("index", ev)
		require.Eventually(t, func() bool {
			info, ok := ex.Execution(id)
			return ok && info.Outcome == automation.Succeeded
		}, 20*time.Second, time.Millisecond, "execution %s", id)
	}
	mu.Unlock()
	require.NoError(t, ex.Close(ctx))
	require.NoError(t, tp.ForceFlush(ctx))

	// Every hop but the journal commit: one span per pipeline, in its trace.
	// Commits: the bus batches durable events (of several pipelines) into
	// one append, so a commit span's parent is its first event's publish
	// and it links to every event's publish: each publish must be linked
	// by exactly one commit, and the batches add up to every event.
	spans := exp.GetSpans()
	var commits []tracetest.SpanStub
	byTrace := map[trace.TraceID][]tracetest.SpanStub{}
	for _, s := range spans {
		if s.Name == "journal commit" {
			commits = append(commits, s)
			continue
		}
		byTrace[s.SpanContext.TraceID()] = append(byTrace[s.SpanContext.TraceID()], s)
	}
	require.Equal(t, 6*n, len(spans)-len(commits), "spans other than commits (0 lost means exactly 6 per pipeline)")
	require.Len(t, byTrace, n, "one trace per pipeline")
	committed := map[trace.SpanID]int{}
	batched := 0
	for _, c := range commits {
		require.NotEmpty(t, c.Links)
		require.Equal(t, c.Links[0].SpanContext.SpanID(), c.Parent.SpanID(), "a commit's parent is its first event's publish")
		for _, l := range c.Links {
			committed[l.SpanContext.SpanID()]++
		}
		for _, a := range c.Attributes {
			if a.Key == "semevent.journal.batch" {
				batched += int(a.Value.AsInt64())
			}
		}
	}
	require.Equal(t, 2*n, batched, "events committed")
	require.Len(t, committed, 2*n, "publishes linked by a commit")
	t.Logf("%d events committed in %d journal appends", batched, len(commits))
	for tid, ss := range byTrace {
		_, ok := roots[tid]
		require.True(t, ok, "trace %s has no root request span", tid)
		byName := map[string][]tracetest.SpanStub{}
		for _, s := range ss {
			byName[s.Name] = append(byName[s.Name], s)
		}
		one := func(name string) tracetest.SpanStub {
			require.Len(t, byName[name], 1, "trace %s: spans named %q", tid, name)
			return byName[name][0]
		}
		request, wstep := one("request"), one("workflow step index")
		pub1, pub2 := one("publish fs.file.create"), one("publish fs.file.write")
		proc1, proc2 := one("process fs.file.create"), one("process fs.file.write")
		parentOf := func(s tracetest.SpanStub) trace.SpanID { return s.Parent.SpanID() }
		require.Equal(t, request.SpanContext.SpanID(), parentOf(pub1), "publish 1 is a child of the request")
		require.Equal(t, pub1.SpanContext.SpanID(), parentOf(proc1), "delivery 1 is a child of publish 1")
		require.Equal(t, proc1.SpanContext.SpanID(), parentOf(pub2), "publish 2 is a child of delivery 1")
		require.Equal(t, pub2.SpanContext.SpanID(), parentOf(proc2), "delivery 2 is a child of publish 2")
		require.Equal(t, pub2.SpanContext.SpanID(), parentOf(wstep), "the workflow step is a child of publish 2 (its trigger's trace context)")
		require.Equal(t, 1, committed[pub1.SpanContext.SpanID()], "publish 1 is linked by one commit")
		require.Equal(t, 1, committed[pub2.SpanContext.SpanID()], "publish 2 is linked by one commit")
		require.Equal(t, trace.SpanKindProducer, pub1.SpanKind)
		require.Equal(t, trace.SpanKindConsumer, proc1.SpanKind)
	}
	// What the journal holds carries the trace context too.
	r, err := j.NewReader(0)
	require.NoError(t, err)
	defer r.Close()
	var ev semevent.Event
	for range 2 * n {
		_, err := r.Next(&ev)
		require.NoError(t, err)
		_, ok := byTrace[trace.TraceID(ev.Trace.TraceID)]
		require.True(t, ok, "journaled event %v has trace %s, not one of the pipelines'", ev.Kind, ev.Trace.TraceID)
	}
}

func kind(k semevent.Kind) filter.Filter {
	return filter.Func(func(ev *semevent.Event) bool { return ev.Kind == k })
}

// TestHandlerError checks that a delivery span records the handler's
// error.
func TestHandlerError(t *testing.T) {
	tr, exp, _ := newTracer(t)
	h := tr.Handler(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error { return fmt.Errorf("boom") }))
	require.Error(t, h.Handle(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite}))
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	require.Equal(t, "boom", spans[0].Status.Description)
}

// TestNoOpenTelemetryBelow checks that only otelbridge pulls in
// OpenTelemetry: none of the library's other packages (propagation first)
// has it among its dependencies.
func TestNoOpenTelemetryBelow(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	out, err := exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/vexfs/semevent/...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if strings.HasPrefix(pkg, "github.com/vexfs/semevent/otelbridge") || strings.Contains(pkg, "/cmd/") || strings.Contains(pkg, "/examples/") {
			continue
		}
		checked++
		require.NotContains(t, " "+deps, " go.opentelemetry.io/", "%s imports OpenTelemetry", pkg)
	}
	require.Greater(t, checked, 20)
	out, err = exec.Command(goBin, "list", "-deps", "github.com/vexfs/semevent/propagation").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "go.opentelemetry.io")
	require.Contains(t, string(out), "github.com/vexfs/semevent/propagation\n")
}

// TestHandlerPanic checks that a delivery span records a panic and ends,
// and that the panic goes on to the bus, which recovers it.
func TestHandlerPanic(t *testing.T) {
	tr, exp, _ := newTracer(t)
	bus, err := propagation.New(nil)
	require.NoError(t, err)
	_, err = bus.Subscribe(tr.Handler(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error { panic("boom") })), nil)
	require.NoError(t, err)
	require.NoError(t, bus.Publish(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite}))
	require.NoError(t, bus.Close(context.Background()))
	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	require.Equal(t, "process fs.file.write", spans[0].Name)
	require.Equal(t, "panic", spans[0].Status.Description)
	require.Equal(t, uint64(1), bus.Stats().Panics)
}
