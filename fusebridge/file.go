package fusebridge

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
)

// eventFile wraps a user's file handle to keep the state of one open→close
// session: the bytes written and the ranges touched. It implements no
// operation itself: the node's operations unwrap it. Without the
// FilePassthroughFder of most loopback handles, the kernel sends every
// read and write to the server.
type eventFile struct {
	fh    fs.FileHandle
	n     *eventNode
	flags uint32
	// The opener: FUSE sends release without a caller.
	pid, uid, gid uint32

	mu        sync.Mutex // guards the fields below
	dirty     bool       // the file changed through this handle
	dirtyPath string     // the path at the first change
	bytes     int64
	writes    int64
	ranges    []span // merged, sorted, at most maxRanges
	// passthrough: the file's size and mtime at open.
	size, mtime int64
	statOK      bool
}

// span is a half-open byte range.
type span struct{ lo, hi int64 }

// maxRanges caps the ranges kept per session; past it the closest ones
// merge, so the summary over-covers rather than grows.
const maxRanges = 16

// passthroughFile is an eventFile whose data calls the kernel serves from
// the backing file.
type passthroughFile struct {
	*eventFile
}

// PassthroughFd hands the kernel the backing descriptor of the user's
// handle.
func (p *passthroughFile) PassthroughFd() (int, bool) {
	if pt, ok := p.fh.(fs.FilePassthroughFder); ok {
		return pt.PassthroughFd()
	}
	return -1, false
}

// wrapFile wraps fh, even a nil one (nodes that serve data themselves
// open without a handle): the wrapper carries the session, and the node's
// operations hand the user's nodes their own handle back.
func (b *Bridge) wrapFile(ctx context.Context, n *eventNode, fh fs.FileHandle, flags uint32) fs.FileHandle {
	ef := &eventFile{fh: fh, n: n, flags: flags}
	if c, ok := fuse.FromContext(ctx); ok {
		ef.pid, ef.uid, ef.gid = b.pids.tgid(c.Pid), c.Uid, c.Gid
	}
	if !b.opts.Passthrough {
		return ef
	}
	ef.size, ef.mtime, ef.statOK = ef.stat(ctx)
	return &passthroughFile{ef}
}

func (f *eventFile) writable() bool { return f.flags&syscall.O_ACCMODE != syscall.O_RDONLY }

func (f *eventFile) stat(ctx context.Context) (size, mtime int64, ok bool) {
	var out fuse.AttrOut
	if f.n.Getattr(ctx, f.fh, &out) != 0 {
		return 0, 0, false
	}
	return int64(out.Size), int64(out.Mtime)*1e9 + int64(out.Mtimensec), true
}

func (f *eventFile) wrote(off, size int64) {
	f.mu.Lock()
	f.bytes += size
	f.writes++
	f.ranges = addSpan(f.ranges, span{off, off + size})
	f.mu.Unlock()
}

// markDirty records a change to the file through this handle; the first
// fixes the path its session reports, the path the kernel sees for it.
func (f *eventFile) markDirty() {
	f.mu.Lock()
	dirty := f.dirty
	f.mu.Unlock()
	if dirty {
		return
	}
	path := f.n.path() // outside f.mu: it takes go-fuse's tree lock
	f.mu.Lock()
	if !f.dirty {
		f.dirty, f.dirtyPath = true, path
	}
	f.mu.Unlock()
}

// beforeRelease runs before the user's handle is released: with
// passthrough it compares the file with what it was at open.
func (f *eventFile) beforeRelease(ctx context.Context) {
	if !f.statOK || !f.writable() {
		return
	}
	if size, mtime, ok := f.stat(ctx); ok && (size != f.size || mtime != f.mtime) {
		f.markDirty()
		f.mu.Lock()
		f.bytes = size
		f.ranges = []span{{0, size}}
		f.mu.Unlock()
	}
}

// released ends the session: a handle open for writing through which the
// file changed yields the write summary, with what was written through
// it. Sessions are per handle: two descriptors writing one file are two
// summaries. A handle open for writing also reports the changes made
// without a handle since the last session (a truncate(2), utimes(2)),
// as the kernel's next close of a written descriptor does.
func (f *eventFile) released(ctx context.Context) {
	if !f.writable() || f.n.b.opts.Writes == WriteCalls {
		return
	}
	npath, nok := f.n.takeDirty()
	f.mu.Lock()
	path, ok := f.dirtyPath, f.dirty
	if !ok {
		path, ok = npath, nok
	}
	if !ok {
		f.mu.Unlock()
		return
	}
	bytes, writes, ranges := f.bytes, f.writes, formatSpans(f.ranges)
	lo := int64(0)
	if len(f.ranges) > 0 {
		lo = f.ranges[0].lo
	}
	f.mu.Unlock()
	f.n.emit(ctx, semevent.KindFileWrite, path, "release", func(ev *semevent.Event) {
		f.caller(ev)
		ev.Offset, ev.Size = lo, bytes
		ev.Attrs = append(ev.Attrs,
			semevent.Attr{Key: AttrSession, Value: "fuse"},
			semevent.Attr{Key: AttrWrites, Value: strconv.FormatInt(writes, 10)},
			semevent.Attr{Key: AttrRanges, Value: ranges})
	})
}

// addSpan inserts s into the sorted, merged list r, merging what touches
// it; past maxRanges it merges the two closest neighbours.
func addSpan(r []span, s span) []span {
	if s.hi <= s.lo {
		return r
	}
	i := 0
	for i < len(r) && r[i].hi < s.lo {
		i++
	}
	j := i
	for j < len(r) && r[j].lo <= s.hi {
		s.lo = min(s.lo, r[j].lo)
		s.hi = max(s.hi, r[j].hi)
		j++
	}
	r = append(r[:i], append([]span{s}, r[j:]...)...)
	for len(r) > maxRanges {
		best := 0
		for k := 1; k < len(r)-1; k++ {
			if r[k+1].lo-r[k].hi < r[best+1].lo-r[best].hi {
				best = k
			}
		}
		r[best].hi = r[best+1].hi
		r = append(r[:best+1], r[best+2:]...)
	}
	return r
}

func formatSpans(r []span) string {
	var sb strings.Builder
	for i, s := range r {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatInt(s.lo, 10))
		sb.WriteByte('-')
		sb.WriteString(strconv.FormatInt(s.hi, 10))
	}
	return sb.String()
}

// caller fills in the opener for events of calls that carry none.
func (f *eventFile) caller(ev *semevent.Event) {
	if ev.PID == 0 {
		ev.PID, ev.UID, ev.GID = f.pid, f.uid, f.gid
	}
}
