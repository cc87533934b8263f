package fusebridge_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// memRoot is a user's in-memory file system: children made in OnAdd, no
// Lookup or Readdir of its own (go-fuse's defaults serve them).
type memRoot struct{ fs.Inode }

func (m *memRoot) OnAdd(ctx context.Context) {
	dir := m.NewPersistentInode(ctx, &fs.Inode{}, fs.StableAttr{Mode: fuse.S_IFDIR})
	m.AddChild("sub", dir, false)
	f := m.NewPersistentInode(ctx, &fs.MemRegularFile{Data: []byte("hello"), Attr: fuse.Attr{Mode: 0o644}}, fs.StableAttr{})
	dir.AddChild("note.txt", f, false)
}

// TestWrapCustomNode: a custom node tree keeps its behaviour when wrapped
// and emits the same events as the loopback.
func TestWrapCustomNode(t *testing.T) {
	needFUSE(t)
	fake := propagationtest.New()
	br, err := fusebridge.New(fake, nil)
	if err != nil {
		t.Fatal(err)
	}
	mnt := t.TempDir()
	m, err := fusebridge.MountFS(mnt, br.Wrap(&memRoot{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	p := filepath.Join(mnt, "sub", "note.txt")
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "hello" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	entries, err := os.ReadDir(filepath.Join(mnt, "sub"))
	if err != nil || len(entries) != 1 || entries[0].Name() != "note.txt" {
		t.Fatalf("ReadDir = %v, %v", entries, err)
	}
	if err := os.WriteFile(p, []byte("bye"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); string(got) != "bye" {
		t.Fatalf("after write: %q", got)
	}
	if err := m.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := br.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	kinds := map[semevent.Kind]int{}
	for _, ev := range fake.Published() {
		if ev.Path == "/sub/note.txt" && ev.Boundary == semevent.FUSE && int(ev.PID) == os.Getpid() {
			kinds[ev.Kind]++
		}
	}
	for _, k := range []semevent.Kind{semevent.KindFileOpen, semevent.KindFileRead, semevent.KindFileClose, semevent.KindFileWrite} {
		if kinds[k] == 0 {
			t.Errorf("no %v event for /sub/note.txt with this pid; got %v", k, kinds)
		}
	}
	if _, ok := fusebridge.Unwrap(br.Wrap(&memRoot{})).(*memRoot); !ok {
		t.Errorf("Unwrap does not return the user's node")
	}
}
