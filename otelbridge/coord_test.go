package otelbridge_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/raft"
	"github.com/vexfs/semevent/otelbridge"
)

// TestReplication appends traced events through a wrapped three-node Raft
// coordinator and follows the shard on every node through a wrapped
// subscription: each append records one replicate span (child of the
// caller's span, linking the events), and each node applies each event in
// an apply span whose parent is the event's trace context — the trace
// continues on every node, with no span lost.
func TestReplication(t *testing.T) {
	const nodes, events = 3, 20
	ctx := context.Background()
	tr, exp, tp := newTracer(t)
	members := map[uint64]string{}
	for i := range nodes {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		members[uint64(i+1)] = l.Addr().String()
		l.Close()
	}
	dir := t.TempDir()
	cs := make([]coord.Coordinator, nodes)
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			c, err := raft.New(&raft.Options{Node: uint64(i + 1), Dir: filepath.Join(dir, fmt.Sprint(i)), Members: members})
			errs[i] = err
			if err == nil {
				cs[i] = tr.Coordinator(c)
			}
		})
	}
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i])
		defer cs[i].Close(ctx)
	}
	_, ok := cs[0].(coord.Membership)
	require.True(t, ok, "the wrapper keeps coord.Membership")

	var mu sync.Mutex
	applied := map[uint64]int{}
	for i := range nodes {
		sub, err := cs[i].Subscribe(0, 1, coord.HandlerFunc(func(ctx context.Context, rec coord.Record) error {
			mu.Lock()
			applied[uint64(i+1)]++
			mu.Unlock()
			return nil
		}))
		require.NoError(t, err)
		defer sub.Unsubscribe()
	}

	roots := map[trace.TraceID]trace.SpanID{}
	for i := range events {
		rctx, root := tp.Tracer("test").Start(ctx, "request")
		ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/data/%d", i)}
		otelbridge.Inject(rctx, ev)
		_, err := cs[i%nodes].Append(rctx, ev)
		require.NoError(t, err)
		root.End()
		roots[root.SpanContext().TraceID()] = root.SpanContext().SpanID()
	}
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return applied[1] == events && applied[2] == events && applied[3] == events
	}, 30*time.Second, 5*time.Millisecond, "every node applies every event")
	for i := range nodes {
		require.NoError(t, cs[i].Close(ctx))
	}

	byTrace := map[trace.TraceID][]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byTrace[s.SpanContext.TraceID()] = append(byTrace[s.SpanContext.TraceID()], s)
	}
	require.Len(t, byTrace, events)
	for tid, ss := range byTrace {
		root, ok := roots[tid]
		require.True(t, ok)
		var replicate, apply int
		for _, s := range ss {
			switch s.Name {
			case "replicate":
				replicate++
				require.Equal(t, root, s.Parent.SpanID(), "replicate is a child of the caller's span")
				require.Len(t, s.Links, 1)
			case "apply fs.file.write":
				apply++
				require.Equal(t, root, s.Parent.SpanID(), "apply is a child of the event's trace context")
				require.True(t, s.Parent.IsRemote())
			}
		}
		require.Equal(t, 1, replicate, "trace %s", tid)
		require.Equal(t, nodes, apply, "trace %s: one apply per node", tid)
	}
}
