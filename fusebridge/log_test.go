package fusebridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/internal/logx/logxtest"
)

// TestLoggerWatcherFallback forces the kernel watcher's fanotify→inotify
// fall back for real: the test binary re-runs itself with CAP_SYS_ADMIN
// dropped (setpriv), so fanotify_init fails, and the child's JSON log must
// say it fell back, with the reason and the fanotify error as attributes
// (issue 17 item 3).
func TestLoggerWatcherFallback(t *testing.T) {
	if dir := os.Getenv("SEMEVENT_FALLBACK_CHILD"); dir != "" {
		lg := slog.New(slog.NewJSONHandler(os.Stdout, nil))
		w, err := fusebridge.NewWatcher(semevent.PublishFunc(func(context.Context, *semevent.Event) error { return nil }), dir,
			&fusebridge.WatcherOptions{Logger: lg})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		return
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and setpriv to drop CAP_SYS_ADMIN")
	}
	dir := t.TempDir()
	cmd := exec.Command(setpriv, "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--",
		os.Args[0], "-test.run=^TestLoggerWatcherFallback$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SEMEVENT_FALLBACK_CHILD="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	var found map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue // the test framework's own lines
		}
		if m["msg"] == "kernel watcher: fanotify unavailable, falling back to inotify" {
			found = m
		}
	}
	if found == nil {
		t.Fatalf("no fall back line in the child's log:\n%s", out)
	}
	if found["level"] != "WARN" || found["component"] != "kwatch" || found["mode"] != "inotify" || found["dir"] == nil {
		t.Errorf("fall back line %v: want level WARN, component kwatch, mode inotify, dir", found)
	}
	if e, _ := found["err"].(string); e == "" {
		t.Errorf("fall back line has no err attribute (the fanotify error): %v", found)
	}
	if r, _ := found["reason"].(string); r == "" {
		t.Errorf("fall back line has no reason: %v", found)
	}
}

// TestLoggerBridgePublishRefused: a bridge whose publisher refuses every
// event logs the refusal once (not once per event) with the error, through
// a real FUSE mount.
func TestLoggerBridgePublishRefused(t *testing.T) {
	if _, err := os.Stat("/dev/fuse"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and /dev/fuse")
	}
	rec, lg := logxtest.New(slog.LevelDebug)
	refuse := errors.New("bus full of opinions")
	b, err := fusebridge.New(semevent.PublishFunc(func(context.Context, *semevent.Event) error { return refuse }),
		&fusebridge.Options{Logger: lg, Writes: fusebridge.WriteCalls})
	if err != nil {
		t.Fatal(err)
	}
	backing, mnt := t.TempDir(), t.TempDir()
	root, err := b.NewLoopbackRoot(backing)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fusebridge.MountFS(mnt, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := os.WriteFile(filepath.Join(mnt, fmt.Sprint("f", i)), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if f := b.Stats().Failed; f < 20 {
		t.Fatalf("Stats.Failed = %d, want at least 20", f)
	}
	lines := rec.Find("publish refused events")
	if len(lines) != 1 {
		t.Fatalf("%d lines for %d refused events within one interval, want 1: %v", len(lines), b.Stats().Failed, rec.Records())
	}
	a := lines[0].Attrs
	if lines[0].Level != slog.LevelError || a["component"] != "fusebridge" || !errors.Is(a["err"].(error), refuse) {
		t.Errorf("line %+v", lines[0])
	}
}
