package fusebridge

import (
	"math/bits"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
)

// TestFanotifyTableComplete: every event bit the watcher asks fanotify for
// has a row in the translation table, and every row maps to kinds the
// watcher can report.
func TestFanotifyTableComplete(t *testing.T) {
	w := &Watcher{}
	for _, k := range semevent.Kinds() {
		w.want[k] = true
	}
	asked := (fanDirentMask | w.fanMask()) &^ (unix.FAN_ONDIR | unix.FAN_EVENT_ON_CHILD)
	var rows uint64
	for _, m := range fanMasks {
		if bits.OnesCount64(m.bit) != 1 {
			t.Errorf("%s: mask %#x is not one bit", m.name, m.bit)
		}
		rows |= m.bit
		if m.file == semevent.KindUnknown || !m.file.IsFile() {
			t.Errorf("%s: file kind %v", m.name, m.file)
		}
	}
	if missing := asked &^ rows; missing != 0 {
		t.Errorf("fanotify bits asked for without a table row: %#x", missing)
	}
	if extra := rows &^ asked; extra != 0 {
		t.Errorf("table rows for bits never asked for: %#x", extra)
	}
}

func TestInotifyTableComplete(t *testing.T) {
	w := &Watcher{}
	for _, k := range semevent.Kinds() {
		w.want[k] = true
	}
	asked := w.inMask() &^ (unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK)
	var rows uint32
	for _, m := range inMasks {
		rows |= m.bit
		if !m.file.IsFile() {
			t.Errorf("%s: file kind %v", m.name, m.file)
		}
	}
	if missing := asked &^ rows; missing != 0 {
		t.Errorf("inotify bits asked for without a table row: %#x", missing)
	}
	// With a FUSE server's pid given, inotify cannot tell its attribute
	// fix-ups from others' and does not ask for them.
	w.opts.ServerPID = 1
	if w.inMask()&unix.IN_ATTRIB != 0 {
		t.Errorf("IN_ATTRIB asked for with ServerPID set")
	}
}

// TestTablesAgree: fanotify and inotify translate the same events to the
// same kinds.
func TestTablesAgree(t *testing.T) {
	fan := map[string][2]semevent.Kind{}
	for _, m := range fanMasks {
		fan[m.name[4:]] = [2]semevent.Kind{m.file, m.dir}
	}
	for _, m := range inMasks {
		name := m.name[3:]
		if name == "MOVED_FROM" || name == "MOVED_TO" {
			name = "RENAME"
		}
		f, ok := fan[name]
		if !ok {
			t.Errorf("inotify %s has no fanotify counterpart", m.name)
			continue
		}
		if f != [2]semevent.Kind{m.file, m.dir} {
			t.Errorf("%s: fanotify gives %v, inotify %v", name, f, [2]semevent.Kind{m.file, m.dir})
		}
	}
}

func TestAddSpan(t *testing.T) {
	tests := []struct {
		in   []span
		add  span
		want string
	}{
		{nil, span{0, 10}, "0-10"},
		{[]span{{0, 10}}, span{10, 20}, "0-20"},
		{[]span{{0, 10}}, span{20, 30}, "0-10,20-30"},
		{[]span{{0, 10}, {20, 30}}, span{5, 25}, "0-30"},
		{[]span{{20, 30}}, span{0, 5}, "0-5,20-30"},
		{[]span{{0, 10}}, span{3, 3}, "0-10"},
	}
	for _, tt := range tests {
		if got := formatSpans(addSpan(append([]span(nil), tt.in...), tt.add)); got != tt.want {
			t.Errorf("addSpan(%v, %v) = %s, want %s", tt.in, tt.add, got, tt.want)
		}
	}
	var r []span
	for i := range 100 {
		r = addSpan(r, span{int64(i * 10), int64(i*10 + 5)})
	}
	if len(r) > maxRanges || r[0].lo != 0 || r[len(r)-1].hi != 995 {
		t.Errorf("100 disjoint spans kept as %d: %s", len(r), formatSpans(r))
	}
}

func TestParseTgid(t *testing.T) {
	tests := []struct {
		in   string
		want uint32
	}{
		{"Name:\tx\nUmask:\t0022\nState:\tS\nTgid:\t1234\nNgid:\t0\n", 1234},
		{"Name:\tx\nTgid:   77", 77},
		{"Name:\tx\n", 9},
		{"Name:\tx\nTgid:\tabc\n", 9},
	}
	for _, tt := range tests {
		if got := parseTgid([]byte(tt.in), 9); got != tt.want {
			t.Errorf("parseTgid(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestPIDCacheNoAllocs: the lookup of a known thread allocates nothing.
func TestPIDCacheNoAllocs(t *testing.T) {
	var c pidCache
	tid := uint32(unix.Gettid())
	want := uint32(unix.Getpid())
	if got := c.tgid(tid); got != want {
		t.Fatalf("tgid(%d) = %d, want %d", tid, got, want)
	}
	if n := testing.AllocsPerRun(100, func() { c.tgid(tid) }); n != 0 {
		t.Errorf("tgid of a cached thread: %v allocations, want 0", n)
	}
}

func BenchmarkPIDCache(b *testing.B) {
	var c pidCache
	tid := uint32(unix.Gettid())
	b.ReportAllocs()
	for b.Loop() {
		c.tgid(tid)
	}
}
