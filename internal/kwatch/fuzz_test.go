package kwatch_test

import (
	"errors"
	"testing"

	"github.com/vexfs/semevent/internal/kwatch"
)

// FuzzNextFanotify: any bytes decode to events that stay inside the buffer,
// or to a *kwatch.Error; never a panic.
func FuzzNextFanotify(f *testing.F) {
	h := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	f.Add(fanRecord(0x100, 1, fidInfo(kwatch.InfoDFIDName, h, "a", true), fidInfo(kwatch.InfoFID, h, "", false)))
	f.Add(fanRecord(0x10000000, 1, fidInfo(kwatch.InfoOldDFIDName, h, "o", true), fidInfo(kwatch.InfoNewDFIDName, h, "n", true)))
	f.Add(fanRecord(0x4000, 1))
	f.Add(fanRecord(0x2, 1, []byte{4, 0, 8, 0, 1, 2, 3, 4}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var infos []kwatch.FanInfo
		for len(b) > 0 {
			ev, rest, err := kwatch.NextFanotify(b, 0, infos)
			if err != nil {
				if !errors.Is(err, kwatch.ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if len(rest) >= len(b) {
				t.Fatalf("no progress: %d bytes before, %d after", len(b), len(rest))
			}
			for _, i := range ev.Infos {
				if len(i.Handle) > len(b) || len(i.Name) > len(b) {
					t.Fatalf("info larger than the input")
				}
			}
			infos, b = ev.Infos, rest
		}
	})
}

// FuzzNextInotify: the same for inotify records.
func FuzzNextInotify(f *testing.F) {
	f.Add(inRecord(1, 0x100, 0, "name", 3))
	f.Add(append(inRecord(1, 0x40, 9, "a", 0), inRecord(1, 0x80, 9, "b", 0)...))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			ev, rest, err := kwatch.NextInotify(b, 0)
			if err != nil {
				if !errors.Is(err, kwatch.ErrMalformed) {
					t.Fatalf("error %v does not wrap ErrMalformed", err)
				}
				return
			}
			if len(rest) >= len(b) || len(ev.Name) > len(b) {
				t.Fatalf("bad progress or name")
			}
			b = rest
		}
	})
}
