package propagation

import (
	"hash/maphash"

	"github.com/vexfs/semevent"
)

var keySeed = maphash.MakeSeed()

// OperationKey returns the identity of the operation an event describes —
// its kind, paths, offset and size — so that the same write seen by the
// FUSE server and by the kernel watcher has the same key. It never returns
// 0, so every event takes part in deduplication.
func OperationKey(ev *semevent.Event) uint64 {
	var h maphash.Hash
	h.SetSeed(keySeed)
	var b [17]byte
	b[0] = byte(ev.Kind)
	putUint64(b[1:], uint64(ev.Offset))
	putUint64(b[9:], uint64(ev.Size))
	h.Write(b[:])
	h.WriteString(ev.Path)
	h.WriteByte(0)
	h.WriteString(ev.OldPath)
	return h.Sum64() | 1
}

func putUint64(b []byte, v uint64) {
	_ = b[7]
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}
