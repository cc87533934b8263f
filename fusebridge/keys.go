package fusebridge

import (
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
)

// Attribute keys the bridge and the kernel watcher set on their events.
const (
	AttrOp        = "op"                         // FUSE opcode ("create", "write", …) or kernel mask ("FAN_CREATE")
	AttrSession   = propagation.AttrWriteSession // on a write summary: "fuse" or "kernel"
	AttrRanges    = "ranges"                     // on a FUSE write summary: merged byte ranges "0-4096,8192-9000"
	AttrWrites    = "writes"                     // on a FUSE write summary: number of write calls
	AttrSet       = "set"                        // on a chmod from setattr: "mode", "owner", "times", joined by ","
	AttrXattr     = "xattr"                      // the extended attribute's name
	AttrFlags     = "flags"                      // open flags, in hex
	AttrType      = "type"                       // "symlink", "link", "dir", "node" where the kind alone does not say
	AttrWatcher   = "watcher"                    // on kernel events: "fanotify" or "inotify"
	AttrExchanged = "exchanged"                  // on a rename with RENAME_EXCHANGE: "true"
)

// Key returns the identity of the operation an event describes, in the
// form both boundaries share, for [propagation.DedupOptions].Key: creates,
// deletes, renames and directory operations are keyed by tenant, kind and
// paths, write sessions (a FUSE open→close summary, a kernel
// close-after-modify) by tenant, kind and path. Every other event —
// per-call reads and writes, opens, closes, attribute changes — is seen by
// one boundary only, so Key returns the empty key and the bus passes it
// without waiting for a twin. It is [propagation.OperationKey], the bus's
// default.
func Key(ev *semevent.Event) semevent.Key { return propagation.OperationKey(ev) }

// DedupOptions returns the bus settings that fold a FUSE event and the
// kernel watcher's event of the same operation: boundaries FUSE and
// Kernel, [Key], and window ([propagation.DefaultDedupWindow] when 0) —
// the bus's defaults, so &propagation.DedupOptions{} does the same.
func DedupOptions(window time.Duration) *propagation.DedupOptions {
	if window == 0 {
		window = propagation.DefaultDedupWindow
	}
	return &propagation.DedupOptions{
		Window:     window,
		Boundaries: semevent.Boundaries(semevent.FUSE, semevent.Kernel),
		Key:        Key,
	}
}
