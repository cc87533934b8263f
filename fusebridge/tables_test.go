package fusebridge

import (
	"bytes"
	"math/bits"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
)

// TestKernelTableComplete: every event bit the watcher asks either
// kernel interface for has a row in the one translation table, every row
// has a bit of each interface, and maps to kinds the watcher can report.
func TestKernelTableComplete(t *testing.T) {
	w := &Watcher{}
	for _, k := range semevent.Kinds() {
		w.want[k] = true
	}
	fanAsked := (fanDirentMask | w.fanMask()) &^ (unix.FAN_ONDIR | unix.FAN_EVENT_ON_CHILD)
	// IN_MOVED_FROM is joined to its IN_MOVED_TO before translation.
	inAsked := w.inMask() &^ (unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK | unix.IN_MOVED_FROM)
	var fanRows uint64
	var inRows uint32
	for _, r := range kernelOps {
		if bits.OnesCount64(r.fan) != 1 || bits.OnesCount32(r.in) != 1 {
			t.Errorf("%s/%s: masks %#x, %#x are not one bit each", r.fanName, r.inName, r.fan, r.in)
		}
		fanRows |= r.fan
		inRows |= r.in
		if r.file == semevent.KindUnknown || !r.file.IsFile() {
			t.Errorf("%s: file kind %v", r.fanName, r.file)
		}
		if r.fanName[len("FAN_"):] != r.inName[len("IN_"):] && r.op != kRename {
			t.Errorf("row %s / %s: names of different events", r.fanName, r.inName)
		}
	}
	if missing := fanAsked &^ fanRows; missing != 0 {
		t.Errorf("fanotify bits asked for without a table row: %#x", missing)
	}
	if extra := fanRows &^ fanAsked; extra != 0 {
		t.Errorf("table rows for fanotify bits never asked for: %#x", extra)
	}
	if missing := inAsked &^ inRows; missing != 0 {
		t.Errorf("inotify bits asked for without a table row: %#x", missing)
	}
	// With a FUSE server's pid given, inotify cannot tell its attribute
	// fix-ups from others' and does not ask for them.
	w.opts.ServerPID = 1
	if w.inMask()&unix.IN_ATTRIB != 0 {
		t.Errorf("IN_ATTRIB asked for with ServerPID set")
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
		{"Name:\tx\nTgid:\t007\n", 9},
		{"Name:\tx\nTgid:\t0\n", 0},
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

// FuzzParseTgid: any text of /proc/<tid>/status gives either the default
// or the number on its Tgid line, without panicking.
func FuzzParseTgid(f *testing.F) {
	f.Add([]byte("Name:\tx\nUmask:\t0022\nState:\tS\nTgid:\t1234\nNgid:\t0\n"), uint32(9))
	f.Add([]byte("Name:\tx\nTgid:   77"), uint32(9))
	f.Add([]byte("\nTgid:\t99999999999999999999\n"), uint32(1))
	f.Add([]byte("\nTgid:\t4294967296\n"), uint32(1))
	f.Fuzz(func(t *testing.T, status []byte, def uint32) {
		got := parseTgid(status, def)
		if got == def {
			return
		}
		i := bytes.Index(status, []byte("\nTgid:"))
		if i < 0 {
			t.Fatalf("parseTgid(%q) = %d without a Tgid line", status, got)
		}
		line := status[i+6:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		if want := strconv.FormatUint(uint64(got), 10); string(bytes.TrimSpace(line)) != want {
			t.Fatalf("parseTgid(%q) = %d, the line says %q", status, got, line)
		}
	})
}
