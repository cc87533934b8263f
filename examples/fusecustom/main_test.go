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
)

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

// TestFusecustom mounts the notes, reads and appends to one, and checks
// the events printed.
func TestFusecustom(t *testing.T) {
	if err := fusebridge.Available(); err != nil {
		t.Skipf("real FUSE mount not possible here: %v", err)
	}
	mnt := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(ctx, mnt, &out, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	p := filepath.Join(mnt, "todo.txt")
	if b, err := os.ReadFile(p); err != nil || string(b) != "eggs\n" {
		t.Fatalf("ReadFile = %q, %v", b, err)
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("milk\n")
	f.Close()
	if b, _ := os.ReadFile(p); string(b) != "eggs\nmilk\n" {
		t.Fatalf("after append: %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	s := out.String()
	t.Log("\n" + s)
	for _, want := range []string{"open   open     /todo.txt", "read   read     /todo.txt", "write  release  /todo.txt", "close  release  /todo.txt"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
