package since

import (
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
)

// FuzzTree folds arbitrary event sequences — including ones no file system
// produces (writes to deleted paths, renames into their own subtree,
// creates under deleted directories, odd paths) — and checks that the
// answer never panics, never lists a path twice, and that a glob only
// removes changes.
func FuzzTree(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{7, 0x12, 0x34, 7, 0x43, 0x21, 4, 0x11, 1, 0x11})
	f.Add([]byte{7, 0x01, 0x10, 2, 0x10, 7, 0x10, 0x01})
	paths := []string{"/a", "/a/b", "/a/b/c", "/b", "/b/a", "a", "/", ".", "/a/../b", "//a//b/", "/c/a"}
	kinds := []semevent.Kind{
		semevent.KindFileCreate, semevent.KindDirCreate, semevent.KindFileWrite, semevent.KindFileChmod,
		semevent.KindFileDelete, semevent.KindDirDelete, semevent.KindFileTruncate, semevent.KindFileRename,
		semevent.KindFileOpen, semevent.KindFileRename,
	}
	g := glob.MustCompile("/a/**")
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := newTree(1 << 20)
		for i := 0; i+1 < len(data); i += 2 {
			ev := &semevent.Event{Kind: kinds[int(data[i])%len(kinds)], Path: paths[int(data[i+1]&0x0f)%len(paths)]}
			if ev.Kind == semevent.KindFileRename && data[i+1]>>4 != 0xf {
				ev.OldPath = paths[int(data[i+1]>>4)%len(paths)]
			}
			tr.apply(ev)
		}
		all := tr.changes(nil)
		seen := map[string]bool{}
		for _, c := range all {
			if seen[c.Path] {
				t.Fatalf("path %q listed twice: %+v", c.Path, all)
			}
			seen[c.Path] = true
			if c.Op < Created || c.Op > Renamed || (c.Op == Renamed) != (c.OldPath != "") {
				t.Fatalf("bad change %+v", c)
			}
		}
		some := tr.changes(newFilter(g))
		if len(some) > len(all) {
			t.Fatalf("the glob added changes: %+v ⊄ %+v", some, all)
		}
	})
}
