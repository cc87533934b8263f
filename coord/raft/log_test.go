package raft

import (
	"context"
	"log"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/logger"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/logx/logxtest"
)

// checkStdLog fails unless the standard log package is as the runtime
// set it up: capnslog's init takes it over (flags 0, its own writer).
func checkStdLog(t *testing.T, when string) {
	t.Helper()
	if f := log.Flags(); f != log.LstdFlags {
		t.Errorf("%s: log.Flags() = %d, want LstdFlags (%d)", when, f, log.LstdFlags)
	}
	if w := log.Writer(); w != os.Stderr {
		t.Errorf("%s: log.Writer() = %T, want os.Stderr", when, w)
	}
	if p := log.Prefix(); p != "" {
		t.Errorf("%s: log.Prefix() = %q, want \"\"", when, p)
	}
}

// TestStdLogUntouched: importing coord/raft and running a node leaves the
// standard log package's flags, prefix and output alone (issue 13 item 6),
// and dragonboat's lines go through Options.Logger with structured
// attributes.
func TestStdLogUntouched(t *testing.T) {
	checkStdLog(t, "after import")
	rec, lg := logxtest.New(slog.LevelDebug)
	SetLogLevel(logger.INFO)
	t.Cleanup(func() { SetLogLevel(logger.ERROR) })
	cl := newCluster(t, clusterConfig{nodes: 1, shards: 1, tweak: func(o *Options) { o.Logger = lg }})
	if _, err := cl.node(0).Append(context.Background(), &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"}); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	checkStdLog(t, "after a node ran")
	var n int
	for _, r := range rec.Records() {
		if r.Attrs["component"] == "dragonboat" && r.Attrs["pkg"] != nil && r.Message != "" {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no dragonboat line reached Options.Logger at INFO; got %d records: %v", len(rec.Records()), rec.Records())
	}
}

// TestPeerDisconnectLoggedAtDebug: when a member dies, the survivors'
// connection failures to it are logged at debug level, never as warnings
// or errors (issue 13 item 6).
func TestPeerDisconnectLoggedAtDebug(t *testing.T) {
	rec, lg := logxtest.New(slog.LevelDebug)
	cl := newCluster(t, clusterConfig{nodes: 3, shards: 1, tweak: func(o *Options) { o.Logger = lg }})
	if err := cl.node(2).Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	var down int
	for down == 0 && time.Now().Before(deadline) {
		if _, err := cl.node(0).Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		down = 0
		for _, r := range rec.Records() {
			if (r.Attrs["pkg"] == "transport" || strings.Contains(r.Message, "peer unreachable")) && r.Level == slog.LevelDebug {
				down++
			}
		}
	}
	if down == 0 {
		t.Fatalf("no peer-connection line after a member closed; records: %v", rec.Records())
	}
	for _, r := range rec.Records() {
		if r.Attrs["pkg"] == "transport" && r.Level >= slog.LevelWarn {
			t.Errorf("peer connection line at %v: %q", r.Level, r.Message)
		}
	}
}
