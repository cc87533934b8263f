package shmring_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/vexfs/semevent/internal/shmring"
)

func slot(n, flags uint32, start, end uint64, size int) []byte {
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b, n)
	binary.LittleEndian.PutUint32(b[4:], flags)
	if size >= 24 {
		binary.LittleEndian.PutUint64(b[8:], start)
		binary.LittleEndian.PutUint64(b[16:], end)
	}
	return b
}

// FuzzDecodeSlot feeds arbitrary slot bytes and payload sizes to the slot
// decoder: it must return a record within bounds or a *CorruptError, never
// panic.
func FuzzDecodeSlot(f *testing.F) {
	f.Add(slot(5, 0, 0, 0, 64), 128)
	f.Add(slot(56, 0, 0, 0, 64), 128)
	f.Add(slot(57, 0, 0, 0, 64), 128)
	f.Add(slot(100, 1, 0, 100, 64), 128)
	f.Add(slot(100, 1, 100, 200, 64), 128)
	f.Add(slot(100, 1, 1<<63, 1<<63+100, 64), 128)
	f.Add(slot(0, 2, 0, 0, 64), 128)
	f.Add([]byte{1, 2, 3}, 0)
	f.Fuzz(func(t *testing.T, s []byte, paySize int) {
		if paySize < 0 || paySize > 1<<16 {
			return
		}
		payload := make([]byte, paySize)
		rec, freed, err := shmring.DecodeSlot(s, payload, nil)
		if err != nil {
			var ce *shmring.CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, shmring.ErrCorrupt) {
				t.Fatalf("error %v is not a *CorruptError", err)
			}
			return
		}
		if len(rec) > len(s) && len(rec) > paySize {
			t.Fatalf("record of %d bytes from a %d-byte slot and %d-byte payload", len(rec), len(s), paySize)
		}
		_ = freed
	})
}
