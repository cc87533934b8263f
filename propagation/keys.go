package propagation

import (
	"github.com/cespare/xxhash/v2"

	"github.com/vexfs/semevent"
)

// AttrWriteSession is the attribute that marks a write summary (one event
// per open→close write session) rather than a single write call. The FUSE
// bridge and its kernel watcher both set it (fusebridge.AttrSession), so
// a write summary is the only kind of write both boundaries report once.
const AttrWriteSession = "session"

// OperationKey is the default [DedupOptions].Key: the identity of the
// operation an event describes, in the form the FUSE bridge and the kernel
// watcher share. Creates, deletes, renames and directory operations are
// keyed by tenant, kind and paths; write summaries (with the
// [AttrWriteSession] attribute) by tenant, kind and path — never by offset
// or size, which the two boundaries report differently. Every other event
// (single reads and writes, opens, closes, attribute changes) is seen by
// one boundary only: OperationKey returns the empty key, and the bus
// passes it without waiting for a twin.
func OperationKey(ev *semevent.Event) semevent.Key {
	switch ev.Kind {
	case semevent.KindFileCreate, semevent.KindFileDelete, semevent.KindFileRename,
		semevent.KindDirCreate, semevent.KindDirDelete:
	case semevent.KindFileWrite:
		if _, ok := ev.Attr(AttrWriteSession); !ok {
			return semevent.Key{}
		}
	default:
		return semevent.Key{}
	}
	// N folds the kind and the old path (renames): never 0, so that an
	// event with an empty path still takes part.
	n := uint64(ev.Kind) | 1<<8
	if ev.OldPath != "" {
		n ^= xxhash.Sum64String(ev.OldPath) &^ 0x1ff
	}
	return semevent.Key{Tenant: ev.Tenant, S: ev.Path, N: n}
}

// emptyKey reports whether k takes no part in deduplication.
func emptyKey(k semevent.Key) bool { return k.S == "" && k.N == 0 }
