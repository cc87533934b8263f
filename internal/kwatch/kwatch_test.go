package kwatch_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/vexfs/semevent/internal/kwatch"
)

// fanRecord builds a fanotify event: metadata then info records.
func fanRecord(mask uint64, pid int32, infos ...[]byte) []byte {
	n := 24
	for _, i := range infos {
		n += len(i)
	}
	b := make([]byte, 24, n)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(n))
	b[4] = kwatch.MetadataVersion
	ne.PutUint16(b[6:], 24)
	ne.PutUint64(b[8:], mask)
	ne.PutUint32(b[16:], 0xffffffff) // FAN_NOFD
	ne.PutUint32(b[20:], uint32(pid))
	for _, i := range infos {
		b = append(b, i...)
	}
	return b
}

// fidInfo builds a file-handle info record, with a name for the DFID_NAME
// types, padded to 4 bytes as the kernel does.
func fidInfo(typ uint8, handle []byte, name string, withName bool) []byte {
	n := 20 + len(handle)
	if withName {
		n += len(name) + 1
	}
	n = (n + 3) &^ 3
	b := make([]byte, n)
	ne := binary.NativeEndian
	b[0] = typ
	ne.PutUint16(b[2:], uint16(n))
	ne.PutUint32(b[4:], 7)
	ne.PutUint32(b[8:], 9)
	ne.PutUint32(b[12:], uint32(len(handle)))
	ne.PutUint32(b[16:], 1)
	copy(b[20:], handle)
	if withName {
		copy(b[20+len(handle):], name)
	}
	return b
}

func TestNextFanotify(t *testing.T) {
	h1, h2 := []byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{9, 9, 9, 9, 9, 9, 9, 9}
	create := fanRecord(0x100, 42, fidInfo(kwatch.InfoDFIDName, h1, "a.txt", true), fidInfo(kwatch.InfoFID, h2, "", false))
	rename := fanRecord(0x10000000, 43, fidInfo(kwatch.InfoOldDFIDName, h1, "old", true), fidInfo(kwatch.InfoNewDFIDName, h2, "new", true), fidInfo(kwatch.InfoFID, h2, "", false))
	buf := append(append([]byte{}, create...), rename...)

	ev, rest, err := kwatch.NextFanotify(buf, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Mask != 0x100 || ev.PID != 42 || ev.FD != -1 || len(ev.Infos) != 2 {
		t.Fatalf("create = %+v", ev)
	}
	if d := ev.Info(kwatch.InfoDFIDName); d == nil || d.Name != "a.txt" || string(d.Handle) != string(h1) || d.FSID != [2]int32{7, 9} || d.HandleType != 1 {
		t.Fatalf("create DFID_NAME = %+v", d)
	}
	if f := ev.Info(kwatch.InfoFID); f == nil || string(f.Handle) != string(h2) {
		t.Fatalf("create FID = %+v", f)
	}
	ev, rest, err = kwatch.NextFanotify(rest, len(create), ev.Infos)
	if err != nil {
		t.Fatal(err)
	}
	if o, n := ev.Info(kwatch.InfoOldDFIDName), ev.Info(kwatch.InfoNewDFIDName); o == nil || n == nil || o.Name != "old" || n.Name != "new" {
		t.Fatalf("rename = %+v", ev)
	}
	if len(rest) != 0 {
		t.Fatalf("%d bytes left", len(rest))
	}
	if ev.Info(kwatch.InfoDFIDName) != nil {
		t.Fatalf("rename has a DFID_NAME record")
	}
	a, b := kwatch.FanInfo{HandleType: 1, Handle: h1}, kwatch.FanInfo{HandleType: 2, Handle: h1}
	if a.Key() == b.Key() {
		t.Fatalf("Key ignores the handle type")
	}
}

func TestNextFanotifyErrors(t *testing.T) {
	good := fanRecord(0x100, 1, fidInfo(kwatch.InfoDFIDName, []byte{1, 2, 3, 4}, "x", true))
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte{}, good...)) }
	ne := binary.NativeEndian
	tests := []struct {
		name string
		buf  []byte
		off  int
	}{
		{"short header", good[:10], 0},
		{"bad version", mut(func(b []byte) []byte { b[4] = 2; return b }), 4},
		{"metadata length too small", mut(func(b []byte) []byte { ne.PutUint16(b[6:], 8); return b }), 6},
		{"event longer than buffer", mut(func(b []byte) []byte { ne.PutUint32(b[0:], 999); return b }), 0},
		{"info length zero", mut(func(b []byte) []byte { ne.PutUint16(b[26:], 0); return b }), 26},
		{"info past event", mut(func(b []byte) []byte { ne.PutUint16(b[26:], 200); return b }), 26},
		{"handle past record", mut(func(b []byte) []byte { ne.PutUint32(b[36:], 100); return b }), 36},
		{"name without NUL", mut(func(b []byte) []byte {
			for i := 24 + 24; i < len(b); i++ {
				b[i] = 'x'
			}
			return b
		}), 48},
	}
	for _, tt := range tests {
		_, _, err := kwatch.NextFanotify(tt.buf, 100, nil)
		var ke *kwatch.Error
		if !errors.As(err, &ke) || !errors.Is(err, kwatch.ErrMalformed) {
			t.Errorf("%s: NextFanotify = %v, want a *kwatch.Error", tt.name, err)
			continue
		}
		if ke.Offset != 100+tt.off {
			t.Errorf("%s: offset %d, want %d (%v)", tt.name, ke.Offset, 100+tt.off, err)
		}
	}
}

func inRecord(wd int32, mask, cookie uint32, name string, pad int) []byte {
	n := 0
	if name != "" {
		n = len(name) + 1 + pad
	}
	b := make([]byte, 16+n)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(wd))
	ne.PutUint32(b[4:], mask)
	ne.PutUint32(b[8:], cookie)
	ne.PutUint32(b[12:], uint32(n))
	copy(b[16:], name)
	return b
}

func TestNextInotify(t *testing.T) {
	buf := append(inRecord(1, 0x40, 7, "from", 3), inRecord(2, 0x80, 7, "to", 0)...)
	buf = append(buf, inRecord(3, 0x8000, 0, "", 0)...)
	want := []kwatch.InEvent{{1, 0x40, 7, "from"}, {2, 0x80, 7, "to"}, {3, 0x8000, 0, ""}}
	for i, w := range want {
		ev, rest, err := kwatch.NextInotify(buf, 0)
		if err != nil || ev != w {
			t.Fatalf("event %d = %+v, %v; want %+v", i, ev, err, w)
		}
		buf = rest
	}
	if _, _, err := kwatch.NextInotify(inRecord(1, 1, 0, "abc", 0)[:18], 5); !errors.Is(err, kwatch.ErrMalformed) {
		t.Fatalf("truncated name: %v", err)
	}
	if _, _, err := kwatch.NextInotify(make([]byte, 3), 0); !errors.Is(err, kwatch.ErrMalformed) {
		t.Fatalf("short header: %v", err)
	}
}
