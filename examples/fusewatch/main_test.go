package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// syncBuffer is a bytes.Buffer safe for the printer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFusewatch runs the program as a newcomer would: mount, do a few
// things in the mount and one in the backing directory, stop, and read
// the live lines and the summary.
func TestFusewatch(t *testing.T) {
	if err := fusebridge.Available(); err != nil {
		t.Skipf("real FUSE mount not possible here: %v", err)
	}
	dir := t.TempDir()
	c := config{backing: filepath.Join(dir, "data"), mount: filepath.Join(dir, "mnt"), writes: "sessions", watch: "auto", window: propagation.DefaultDedupWindow}
	os.Mkdir(c.backing, 0o755)
	os.Mkdir(c.mount, 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(ctx, c, &out, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	if err := os.WriteFile(filepath.Join(c.mount, "a.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(c.mount, "a.txt"), filepath.Join(c.mount, "b.txt")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{"kernel watcher:", "kernel+fuse create /a.txt", "kernel+fuse write /a.txt", "kernel+fuse rename /b.txt (from /a.txt)", "summary:", "folded by dedup"} {
		if !strings.Contains(strings.Join(strings.Fields(s), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("output lacks %q", want)
		}
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), " "+c.mount+" ") {
		t.Errorf("%s still mounted", c.mount)
	}
}
