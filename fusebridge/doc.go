// Package fusebridge turns real file operations into semantic events: the
// operations a go-fuse server serves, the kernel's view of a directory
// tree (fanotify or inotify), the folding of the two views of one
// operation into one event, and a shared-memory channel that carries
// events to another process.
//
// # Usage
//
// A loopback mount over a backing directory, its kernel watcher and a bus
// that folds their twin events:
//
//	bus, _ := propagation.New(&propagation.Options{Dedup: fusebridge.DedupOptions(0)})
//	bridge, _ := fusebridge.New(bus, nil)
//	w, _ := fusebridge.NewWatcher(bus, backing, &fusebridge.WatcherOptions{ServerPID: os.Getpid()})
//	fmt.Println(w.Mode(), w.Reason()) // which kernel interface, and why
//	root, _ := bridge.NewLoopbackRoot(backing)
//	mnt, err := fusebridge.MountFS(mountpoint, root, nil) // root and /dev/fuse
//	…
//	// Shut down in the order of the semevent package doc: the mount, the
//	// watcher, the bridge, then the bus.
//	semevent.CloseAll(ctx, mnt, w, bridge, bus)
//
// [Bridge.Sync] waits until every event the bridge made so far has been
// delivered by the bus ([Watcher.Sync] first, for the kernel's twins),
// without closing anything: a test or a checkpoint can then read what
// the subscribers saw.
//
// Every successful operation on the mount becomes an event with boundary
// [semevent.FUSE]: create, mknod, symlink and link ([semevent.KindFileCreate]),
// mkdir, unlink, rmdir, rename (Path is the new name, OldPath the old),
// open, read, write, flush and release ([semevent.KindFileClose] with
// attribute op), setattr (truncate; chmod for mode, owner and times),
// setxattr and removexattr. Paths are relative to the mount, "/a/b". PID
// is the calling process (FUSE reports the thread; the bridge maps it
// through /proc), UID and GID the caller's. The attribute [AttrOp] names
// the FUSE operation or the kernel mask.
//
// Writes are reported per open→close session of each handle by default
// ([WriteSessions]): one [semevent.KindFileWrite] when a handle opened for
// writing is released after the file changed through it, with Size the
// bytes written through that handle and [AttrRanges] the ranges touched.
// Two descriptors writing one file (`exec 3>>f 4>>f`) are two sessions,
// each with its own size; concurrent writers each get theirs. A change
// made without a handle (truncate(2), utimes(2)) is reported by the next
// session of any handle open for writing. [WriteCalls] and [WriteBoth]
// add or substitute one event per write call.
//
// Custom file systems: [Bridge.Wrap] wraps any go-fuse node
// ([fs.InodeEmbedder]) and every node created beneath it; each operation is
// forwarded unchanged, and an operation the node does not implement
// behaves as go-fuse's default for it. Code that type-asserts
// Inode.Operations() to its own type must call [Unwrap] first. See the
// Wrap example and examples/fusewatch.
//
// # Deduplication across the boundary
//
// A [Watcher] on the backing directory sees each operation done through
// the mount a second time. [Key] gives both sightings of a create, delete,
// rename, mkdir, rmdir or write session the same key, and
// [DedupOptions] configures the bus to fold them: the delivered event is
// the FUSE one (its pid, trace context, cause and attributes), with Seen
// holding FUSE and Kernel and Observed the kernel's sighting. Operations
// done on the backing directory directly reach subscribers as kernel
// events. The kernel reports a session as written when a descriptor
// opened for writing is closed after a modification (a write, a truncate,
// or a new mtime alone — fsnotify's FS_MODIFY), with the path the file had
// at the first modification; the bridge reports sessions by the same rule.
// Events that only one side can see (reads, opens, per-call writes,
// attribute changes) have key 0 and pass without waiting. The loopback's
// own attribute fix-ups (it sets the owner of every file it creates) are
// dropped by the watcher through WatcherOptions.ServerPID.
//
// Limits: the kernel's file events (writes, attribute changes) come from
// one inode mark per directory, placed when the watcher reads the
// directory's creation; a file written in a directory younger than that
// is reported by the FUSE side alone. Inotify watches one directory at a
// time, and a directory is watched only once the watcher has read its
// creation: entries made in it before then come with no event. The
// watcher lists such a directory when it starts watching it and reports
// what it finds as created, unless a rename out of another watched
// directory, whose destination the kernel could not report, claims an
// entry of the same name: that is reported as the rename it was. The
// kernel does not know handles:
// it reports a close of a written descriptor after a modification since
// its last such report, so with several handles writing one file, and
// because unread kernel events on one object merge, it may report fewer
// sessions than the bridge. Each session still appears once, some
// without a kernel sighting; a kernel session never appears twice.
//
// # State and its bounds
//
// The bridge keeps, per open handle, its write session (at most 16 byte
// ranges), and a cache from thread to process id capped at 4096 threads
// (cleared when full, counted in Stats.PIDCacheResets). The watcher keeps
// the directories of the live tree (a deleted directory is forgotten once
// the kernel queue has been read past it), one entry per file modified
// and not yet closed, and, with inotify, the entries of new directories
// not yet reported; all are bounded by the tree and its open files, not
// by the number of operations.
//
// # Shared memory
//
// [NewShmChannel] creates a single-producer, single-consumer ring in a
// memfd; pass [ShmChannel.File] to another process, which calls
// [OpenShmChannel]. The [ShmWriter] is a [semevent.Handler] to subscribe on
// the server's bus; the [ShmReader] decodes events and can publish them to
// a bus in the analytics process ([ShmReader.Run]).
//
// # Authorization
//
// On a bus with an Authorizer (propagation.Options.Authorizer) every
// publish needs a principal. The bridge and the watcher publish as their
// own: Options.Principal and WatcherOptions.Principal. Each needs a role
// with a publish grant on the file-system events it reports, for example
//
//	{Name: "fuse-bridge", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Topics: []string{"fs.>"}}}}
//
// and, when the principal is bound to a tenant, Options.Tenant (and
// WatcherOptions.Tenant) set to that tenant, since a tenant's principal
// may publish only its own tenant's events. Without a principal an
// authorized bus refuses every event, counted in Stats.Failed and
// WatcherStats.Failed.
//
// # Metrics
//
// [Bridge.Stats] counts the operations served (Ops, by kind: their rate is
// the mount's operations per second), the queue (Backlog, Dropped,
// Evicted) and what the bus accepted or refused. [Watcher.Stats] says
// which kernel interface runs (Mode), how many records it read, and every
// kernel queue overflow (Overflows: events were lost). The counters only
// grow, so a rate is the difference of two readings; package
// analytics/promexport exports both.
//
// # Concurrency
//
// go-fuse calls node operations concurrently; the bridge's wrappers are
// safe for that. Events are queued without waiting longer than
// Options.BlockTimeout and published by one goroutine, in batches
// gathered over Options.BatchDelay (1ms by default: fewer wake-ups on the
// processors the FUSE server needs), so a slow subscriber never stalls the
// file system; a full queue applies Options.Policy and [Bridge.Stats]
// counts every drop. A [Watcher] reads
// the kernel in one goroutine and publishes in order. [ShmWriter] methods
// may be called concurrently; a [ShmReader] belongs to one goroutine.
// [Bridge.Close], [Watcher.Close] and [Mount.Close] wait for their
// goroutines, or for their ctx to end; each may be called in any order
// relative to the others and to the bus's Close, and more than once.
//
// # Deadlocks
//
// A process that serves a mount must not start a child with its working
// directory inside that mount (exec.Cmd.Dir): the child calls chdir
// between fork and exec, and while that FUSE request waits, the Go
// runtime cannot start the thread that would serve it — the process hangs
// for good, and so does the child if the parent is killed. Pass the
// directory as an argument (git -C, tar -C) or run such clients from
// another process. go-fuse's fs/api.go lists the other self-deadlocks of
// a process that is its own FUSE client.
//
// # Errors
//
// [New] and [NewWatcher] return [ErrNilPublisher], or one
// *[semevent.OptionsError] listing every invalid field (it wraps
// [semevent.ErrInvalidOptions]); NewWatcher returns an error wrapping
// [ErrUnsupported] when the requested kernel interface is unavailable.
// [MountFS] returns a *[MountError], wrapping [ErrNoFUSE] when this
// machine cannot mount (no /dev/fuse, not root). [Mount.Close] retries
// while the mount is busy and then detaches it lazily, so nothing stays
// mounted. The shared-memory channel returns errors wrapping
// [ErrPeerGone] when the other process died, [ErrChannelCorrupt] for
// memory that does not decode (a damaged ring or a malformed event
// record), and io.EOF when the writer closed. Watcher problems that do
// not stop it go to WatcherOptions.OnError and are counted in
// [WatcherStats]: a kernel queue overflow wraps [ErrOverflow], a record
// that does not decode [ErrMalformedRecord].
//
// # Testing
//
// Code that consumes these events can be tested without mounting: publish
// events shaped like the bridge's (boundary FUSE, the attributes above) to
// a propagationtest fake. The package's own tests mount real file systems
// in temporary directories when run as root with /dev/fuse, and skip with
// the missing piece named otherwise.
package fusebridge
