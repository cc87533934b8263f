package fusebridge

import (
	"hash/maphash"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

// Attribute keys the bridge and the kernel watcher set on their events.
const (
	AttrOp        = "op"        // FUSE opcode ("create", "write", …) or kernel mask ("FAN_CREATE")
	AttrSession   = "session"   // on a write summary: "fuse" or "kernel"
	AttrRanges    = "ranges"    // on a FUSE write summary: merged byte ranges "0-4096,8192-9000"
	AttrWrites    = "writes"    // on a FUSE write summary: number of write calls
	AttrSet       = "set"       // on a chmod from setattr: "mode", "owner", "times", joined by ","
	AttrXattr     = "xattr"     // the extended attribute's name
	AttrFlags     = "flags"     // open flags, in hex
	AttrType      = "type"      // "symlink", "link", "dir", "node" where the kind alone does not say
	AttrWatcher   = "watcher"   // on kernel events: "fanotify" or "inotify"
	AttrExchanged = "exchanged" // on a rename with RENAME_EXCHANGE: "true"
)

var keySeed = maphash.MakeSeed()

// Key returns the identity of the operation an event describes, in the
// form both boundaries share, for [propagation.DedupOptions].Key: creates,
// deletes, renames and directory operations are keyed by kind and paths,
// write sessions (a FUSE open→close summary, a kernel close-after-modify)
// by kind and path. Every other event — per-call reads and writes, opens,
// closes, attribute changes — is seen by one boundary only, so Key returns
// 0 and the bus passes it without waiting for a twin.
func Key(ev *semevent.Event) uint64 {
	switch ev.Kind {
	case semevent.KindFileCreate, semevent.KindFileDelete, semevent.KindFileRename,
		semevent.KindDirCreate, semevent.KindDirDelete:
	case semevent.KindFileWrite:
		if _, ok := ev.Attr(AttrSession); !ok {
			return 0
		}
	default:
		return 0
	}
	var h maphash.Hash
	h.SetSeed(keySeed)
	h.WriteByte(byte(ev.Kind))
	h.WriteString(ev.Path)
	h.WriteByte(0)
	h.WriteString(ev.OldPath)
	return h.Sum64() | 1
}

// DefaultDedupWindow is the window [DedupOptions] uses when given 0: long
// enough for the kernel watcher to read an event that the FUSE side
// emitted, even on a loaded machine.
const DefaultDedupWindow = 500 * time.Millisecond

// DedupOptions returns the bus settings that fold a FUSE event and the
// kernel watcher's event of the same operation: boundaries FUSE and
// Kernel, [Key], and window (DefaultDedupWindow when 0).
func DedupOptions(window time.Duration) *propagation.DedupOptions {
	if window == 0 {
		window = DefaultDedupWindow
	}
	return &propagation.DedupOptions{
		Window:     window,
		Boundaries: semevent.Boundaries(semevent.FUSE, semevent.Kernel),
		Key:        Key,
	}
}
