package journal

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/logx"
)

// Journal is a durable, append-only log of events in segment files in one
// directory. Records get consecutive offsets starting at 0. All methods may
// be called concurrently.
type Journal struct {
	dir      string
	opts     Options
	fs       FS
	lock     io.Closer
	recovery *Recovery
	log      *slog.Logger // opts.Logger with component=journal, dir
	always   bool
	instance [16]byte // see Instance

	mu          sync.Mutex // guards the fields below up to the blank line
	closed      bool
	err         error      // the first *WriteError; sticky
	next        uint64     // the offset the next record gets
	segs        []*segment // created segments by base; readers pick from here
	removedBase uint64     // first offset when segs is empty
	tail        *segment   // segment receiving enqueued records (maybe not created yet)
	tailSize    int64      // size tail will have once the chunks are written
	tailRecords int
	chunks      []chunk // enqueued records not yet written, in order
	spare       []chunk // recycled chunk list and buffers
	bufBytes    int
	scratch     []byte   // plaintext of the record being encrypted
	nonce       [12]byte // its nonce: a field, as a local would escape to the heap through cipher.AEAD

	flushMu  sync.Mutex // held while writing chunks out (never across an fsync); guards the fields below
	active   *segment   // the segment open for writing, nil before the first write
	file     File
	fileSize int64
	pendEnd  uint64 // offset after the last record written to file

	// syncMu is held across every data fsync, and by a rollover or Close
	// (under flushMu) while it fsyncs and closes the file: lock order
	// flushMu, then syncMu. Appenders and the writer of buffered records
	// never wait for an fsync in progress.
	syncMu   sync.Mutex
	syncKick chan struct{} // SyncInterval: wakes the syncer goroutine

	manifestMu sync.Mutex // serializes manifest rewrites; taken before mu
	ids        *semevent.IDGenerator
	consDirOK  atomic.Bool // consumers/ exists and its entry is fsynced

	synced    atomic.Uint64 // offsets below are written and fsynced
	unflushed atomic.Int64  // records enqueued and not yet taken by a flush
	lastGroup atomic.Int64  // records the last flush took (group commit size)

	commitMu   sync.Mutex  // guards leading; commitCond's lock
	commitCond *sync.Cond  // broadcast when a leader's flush ends
	leading    bool        // an appender is writing out and fsyncing
	finished   atomic.Bool // Close has written out every record

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced when records become readable

	stop chan struct{}
	wg   sync.WaitGroup

	stats struct{ records, flushes, fsyncs, bytes, segments atomic.Int64 }
}

// Stats counts what a Journal has done since Open.
type Stats struct {
	Records  int64 // records written out
	Flushes  int64 // group writes: Records/Flushes is the mean group size
	Fsyncs   int64 // data fsyncs (not counting new segments' own)
	Bytes    int64 // record bytes written
	Segments int64 // segments created
}

// Stats returns a snapshot of the journal's counters.
func (j *Journal) Stats() Stats {
	return Stats{
		Records:  j.stats.records.Load(),
		Flushes:  j.stats.flushes.Load(),
		Fsyncs:   j.stats.fsyncs.Load(),
		Bytes:    j.stats.bytes.Load(),
		Segments: j.stats.segments.Load(),
	}
}

type chunk struct {
	seg  *segment
	data []byte
	end  uint64 // offset after the chunk's last record
}

// Recovery describes what Open repaired: a torn tail (a record only
// partly written when the process or machine stopped) that it cut off.
type Recovery struct {
	Segment string // the segment file
	Pos     int64  // where it was cut: the new size of the file
	Dropped int64  // bytes cut off
	Next    uint64 // the offset the next record gets
}

func (r *Recovery) String() string {
	return fmt.Sprintf("journal: torn tail of segment %s cut at byte %d (%d bytes dropped); next offset %d", r.Segment, r.Pos, r.Dropped, r.Next)
}

// Open opens the journal in dir, creating dir if needed (and fsyncing the
// new directory entries), and recovers it: leftovers of an interrupted
// segment creation are removed; every segment header is checked (and its
// key, for encrypted segments); the segments are checked against the
// manifest and for continuity, so a missing, cut or extra segment fails
// Open with a *[CorruptError]; and the last segment is scanned so that a
// torn tail is cut off (see [Journal.Recovery]) while any other bad record
// fails Open with a *[CorruptError]. The last segment is then fsynced, so
// that nothing a killed process wrote without fsyncing is served or built
// upon before it is durable. A plaintext journal appends to its last
// segment; an encrypted one starts a new segment on its first write.
func Open(dir string, opts *Options) (*Journal, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	o.Encryption = o.Encryption.clone()
	j := &Journal{dir: dir, opts: o, log: logx.For(o.Logger, "journal").With(slog.String(logx.Dir, dir)), fs: o.FS, always: o.Sync == SyncAlways, notify: make(chan struct{}), stop: make(chan struct{}),
		ids: semevent.NewIDGenerator(o.Node)}
	if err := j.makeDir(); err != nil {
		return nil, err
	}
	if l, ok := j.fs.(Locker); ok {
		lk, err := l.Lock(filepath.Join(dir, "LOCK"))
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		j.lock = lk
	}
	err := j.load()
	if err == nil {
		err = j.loadInstance()
	}
	if ce, ok := errors.AsType[*CorruptError](err); ok {
		j.log.LogAttrs(context.Background(), slog.LevelError, "journal refused: corrupt record", slog.String(logx.Segment, ce.Segment),
			slog.Int64(logx.Offset, ce.Pos), slog.Uint64("record", ce.Offset), slog.String(logx.Reason, ce.Reason), slog.Any(logx.Err, err))
	}
	if err != nil {
		if j.file != nil {
			j.file.Close()
		}
		if j.lock != nil {
			j.lock.Close()
		}
		return nil, err
	}
	j.commitCond = sync.NewCond(&j.commitMu)
	j.synced.Store(j.next)
	j.pendEnd = j.next
	j.applyRetention()
	if o.Sync > 0 {
		j.syncKick = make(chan struct{}, 1)
		j.wg.Add(1)
		go j.syncer()
	}
	if !j.always || o.RetentionAge > 0 {
		j.wg.Add(1)
		go j.background()
	}
	return j, nil
}

// Recovery returns what Open cut off as a torn tail, or nil if nothing.
func (j *Journal) Recovery() *Recovery { return j.recovery }

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

// FirstOffset returns the offset of the oldest retained record (equal to
// NextOffset when the journal holds none).
func (j *Journal) FirstOffset() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.firstLocked()
}

func (j *Journal) firstLocked() uint64 {
	if len(j.segs) > 0 {
		return j.segs[0].base
	}
	return j.removedBase
}

// NextOffset returns the offset the next appended record will get.
func (j *Journal) NextOffset() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next
}

// Append appends ev and returns its offset once it is committed under the
// sync policy: fsynced for [SyncAlways] (sharing the fsync with concurrent
// appenders), buffered for [SyncInterval] and [SyncNever]. ctx is checked
// before the event is taken; once taken Append waits for the commit.
//
// After a failed write or fsync, Append returns the journal's *[WriteError]
// for this and every later call.
func (j *Journal) Append(ctx context.Context, ev *semevent.Event) (uint64, error) {
	evs := [1]*semevent.Event{ev}
	return j.AppendBatch(ctx, evs[:])
}

// AppendBatch appends evs as consecutive records and returns the offset of
// the first; the batch is committed as Append commits one event. An error
// means none of the batch was acknowledged (some of it may still be on disk,
// as with any failed write).
func (j *Journal) AppendBatch(ctx context.Context, evs []*semevent.Event) (uint64, error) {
	return j.appendBatch(ctx, evs, nil)
}

// AppendBatchMeta appends evs as [Journal.AppendBatch] does, giving every
// record of the batch a copy of meta as its metadata (see
// [Options.MetaSize] and [Reader.Meta]). meta must be exactly MetaSize
// bytes, else AppendBatchMeta appends nothing and returns a
// *[MetaSizeError]. The journal does not keep meta after it returns.
func (j *Journal) AppendBatchMeta(ctx context.Context, evs []*semevent.Event, meta []byte) (uint64, error) {
	if len(meta) != j.opts.MetaSize {
		return 0, &MetaSizeError{Dir: j.dir, Len: len(meta), MetaSize: j.opts.MetaSize}
	}
	return j.appendBatch(ctx, evs, meta)
}

// appendBatch appends evs with meta (nil: zeros) on every record.
func (j *Journal) appendBatch(ctx context.Context, evs []*semevent.Event, meta []byte) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	first, end, full, err := j.enqueue(evs, meta)
	if err != nil {
		return 0, err
	}
	if j.always {
		return first, j.commit(end)
	}
	if full {
		err = j.flush(false)
	}
	return first, err
}

// commit waits until offsets below end are fsynced. Group commit: one
// appender at a time leads, writing out everything enqueued so far and
// fsyncing once; the others wait on commitCond and return as soon as the
// leader's fsync covers their records, without queueing on flushMu.
func (j *Journal) commit(end uint64) error {
	j.commitMu.Lock()
	for {
		if j.synced.Load() >= end {
			j.commitMu.Unlock()
			return nil
		}
		if err := j.failure(); err != nil {
			j.commitMu.Unlock()
			return err
		}
		if !j.leading {
			break
		}
		j.commitCond.Wait()
	}
	j.leading = true
	j.commitMu.Unlock()

	j.gather()
	err := j.flush(true)

	j.commitMu.Lock()
	j.leading = false
	j.commitCond.Broadcast()
	j.commitMu.Unlock()
	if err != nil {
		return err
	}
	if j.synced.Load() < end { // cannot happen: Close writes out what was enqueued
		return ErrClosed
	}
	return nil
}

// gatherYields bounds how long a leader waits for its group (see gather).
const (
	gatherYields = 64
	gatherMax    = 100 * time.Microsecond
)

// gather lets a new leader wait, briefly, until as many records are queued
// as the previous group commit carried: the appenders that commit just
// released are about to append again, and waiting for them lets one fsync
// carry them all instead of splitting them into alternate groups.
func (j *Journal) gather() {
	want := j.lastGroup.Load()
	if want <= 1 {
		return
	}
	deadline := time.Now().Add(gatherMax)
	for i := 1; j.unflushed.Load() < want && i <= gatherYields; i++ {
		runtime.Gosched()
		if i%8 == 0 && time.Now().After(deadline) {
			return
		}
	}
}

func (j *Journal) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// Sync writes and fsyncs every record appended so far.
func (j *Journal) Sync(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	end, closed := j.next, j.closed
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if j.synced.Load() >= end {
		return j.failure()
	}
	return j.flush(true)
}

// Flush writes every record appended so far out to the operating system,
// which makes it readable (see [Reader]), without waiting for an fsync:
// under [SyncNever] and [SyncInterval] it is how a writer that applies
// records and serves them right away (coord/raft's state machine) makes
// them visible before the next periodic write. Under [SyncAlways] records
// are readable once Append returns and Flush has nothing to do. It returns
// the journal's *[WriteError] once one has stopped it.
func (j *Journal) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j.mu.Lock()
	closed, pending := j.closed, len(j.chunks) > 0
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if !pending || j.always {
		return j.failure()
	}
	return j.flush(false)
}

// enqueue frames evs, each with meta (nil: zeros), into the chunk buffers
// and assigns their offsets. full reports that BufferSize bytes or more now
// wait to be written.
func (j *Journal) enqueue(evs []*semevent.Event, meta []byte) (first, end uint64, full bool, err error) {
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			return 0, 0, false, fmt.Errorf("journal: %w", err)
		}
	}
	for _, ev := range evs {
		j.ids.Stamp(ev)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.closed:
		return 0, 0, false, ErrClosed
	case j.err != nil:
		return 0, 0, false, j.err
	}
	first = j.next
	origTail, origSize, origRecords := j.tail, j.tailSize, j.tailRecords
	mark := len(j.chunks)
	var markLen int
	if mark > 0 {
		markLen = len(j.chunks[mark-1].data)
	}
	for _, ev := range evs {
		if err := j.enqueueLocked(ev, meta); err != nil {
			// Undo the batch: no record of it is written.
			for i := mark; i < len(j.chunks); i++ {
				j.bufBytes -= len(j.chunks[i].data)
			}
			j.chunks = j.chunks[:mark]
			if mark > 0 {
				c := &j.chunks[mark-1]
				j.bufBytes -= len(c.data) - markLen
				c.data = c.data[:markLen]
				c.end = first
			}
			j.unflushed.Add(-int64(j.next - first))
			j.next = first
			if origTail != nil {
				origTail.trimIndex(first)
			}
			// Back to the segment the batch started in: a rejected batch
			// never starts a segment.
			j.tail, j.tailSize, j.tailRecords = origTail, origSize, origRecords
			return 0, 0, false, err
		}
	}
	return first, j.next, j.bufBytes >= j.opts.BufferSize, nil
}

// zeroMeta is the metadata of records appended without any.
var zeroMeta [MaxMetaSize]byte

func (j *Journal) enqueueLocked(ev *semevent.Event, meta []byte) error {
	off := j.next
	if meta == nil {
		meta = zeroMeta[:j.opts.MetaSize]
	}
	var plain []byte
	var bodyLen int
	enc := j.opts.Encryption
	if enc != nil {
		j.scratch = codec.Append(j.scratch[:0], ev)
		plain = j.scratch
		bodyLen = len(plain) + 16
	} else {
		bodyLen = codec.Size(ev) // an upper bound, exact below
	}
	recLen := int64(recHeader + len(meta) + bodyLen)
	if enc != nil && recLen > int64(j.opts.MaxRecordSize) {
		return fmt.Errorf("%w: %d-byte record, at most %d", ErrTooLarge, recLen, j.opts.MaxRecordSize)
	}
	if j.tail == nil || (j.tailRecords > 0 && j.tailSize+recLen > j.opts.SegmentSize) {
		if err := j.newTailLocked(off); err != nil {
			return err
		}
	}
	c := j.chunkLocked()
	start := len(c.data)
	c.data = append(c.data, make([]byte, recHeader)...)
	c.data = append(c.data, meta...)
	if enc != nil {
		// meta is the caller's slice (or zeroMeta), never c.data: Seal's
		// additional data must not overlap its output.
		c.data = j.tail.aead.Seal(c.data, recordNonce(&j.nonce, off), plain, meta)
	} else {
		c.data = codec.Append(c.data, ev)
	}
	rec := c.data[start:]
	if len(rec) > j.opts.MaxRecordSize {
		c.data = c.data[:start]
		return fmt.Errorf("%w: %d-byte record, at most %d", ErrTooLarge, len(rec), j.opts.MaxRecordSize)
	}
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(rec)-recHeader))
	binary.LittleEndian.PutUint64(rec[8:], off)
	binary.LittleEndian.PutUint32(rec[4:], recordCRC(rec[:recHeader], rec[recHeader:]))
	j.next++
	j.unflushed.Add(1)
	c.end = j.next
	j.tail.noteIndex(off, j.tailSize)
	j.tailSize += int64(len(rec))
	j.tailRecords++
	j.bufBytes += len(rec)
	return nil
}

// newTailLocked starts a new segment for records from offset base on.
func (j *Journal) newTailLocked(base uint64) error {
	var salt []byte
	if j.opts.Encryption != nil {
		salt = make([]byte, saltSize)
		rand.Read(salt)
	}
	s, err := newSegmentHeader(base, j.opts.Now(), j.opts.Encryption, salt, j.opts.MetaSize)
	if err != nil {
		return err
	}
	j.tail, j.tailSize, j.tailRecords = s, int64(len(s.hdr)), 0
	return nil
}

// chunkLocked returns the chunk that records for j.tail go into.
func (j *Journal) chunkLocked() *chunk {
	if n := len(j.chunks); n > 0 && j.chunks[n-1].seg == j.tail {
		return &j.chunks[n-1]
	}
	var data []byte
	if n := len(j.spare); n > 0 {
		data = j.spare[n-1].data[:0]
		j.spare = j.spare[:n-1]
	}
	j.chunks = append(j.chunks, chunk{seg: j.tail, data: data})
	return &j.chunks[len(j.chunks)-1]
}

// flush writes out every enqueued record and, if doSync (or the policy is
// SyncAlways), fsyncs them. The write happens under flushMu, the fsync
// outside it (under syncMu), so appenders and the periodic writer never
// wait behind an fsync in progress. The first failure is kept in j.err and
// returned from then on: nothing more is acknowledged.
func (j *Journal) flush(doSync bool) error {
	j.flushMu.Lock()
	err := j.writeOutLocked()
	f, seg, size, end := j.file, j.active, j.fileSize, j.pendEnd
	j.flushMu.Unlock()
	if err != nil || !(doSync || j.always) {
		return err
	}
	return j.syncTo(f, seg, size, end)
}

// writeOutLocked writes every enqueued record to the active segment
// (rolling over as needed). flushMu must be held.
func (j *Journal) writeOutLocked() error {
	j.mu.Lock()
	if j.err != nil {
		err := j.err
		j.mu.Unlock()
		return err
	}
	chunks := j.chunks
	j.chunks = nil
	j.bufBytes = 0
	if n := j.unflushed.Swap(0); n > 0 {
		j.lastGroup.Store(n)
		j.stats.records.Add(n)
		j.stats.flushes.Add(1)
	}
	j.mu.Unlock()

	err := j.writeChunks(chunks)
	j.mu.Lock()
	for i := range chunks {
		chunks[i].seg = nil
	}
	j.spare = append(j.spare, chunks...)
	j.mu.Unlock()
	if err != nil {
		j.fail(err)
	}
	return err
}

// fail records err as the journal's failure, if it is the first, and wakes
// readers.
func (j *Journal) fail(err error) {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
	j.broadcast()
}

// syncTo fsyncs f, the file of segment seg written up to size bytes and
// offset end, unless an fsync (or a rollover) already covered end. Under
// SyncAlways it then makes those records readable.
func (j *Journal) syncTo(f File, seg *segment, size int64, end uint64) error {
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced.Load() >= end {
		return j.failure()
	}
	if err := j.failure(); err != nil {
		return err
	}
	j.stats.fsyncs.Add(1)
	if err := f.Sync(); err != nil {
		werr := &WriteError{Op: "fsync", Segment: seg.name, Err: err}
		j.fail(werr)
		return j.failure()
	}
	j.synced.Store(end)
	if j.always {
		j.publish(seg, size, end)
	}
	return nil
}

func (j *Journal) writeChunks(chunks []chunk) error {
	for i := range chunks {
		c := &chunks[i]
		if c.seg != j.active {
			if err := j.rollLocked(c.seg); err != nil {
				return err
			}
		}
		if _, err := j.file.Write(c.data); err != nil {
			return &WriteError{Op: "write", Segment: j.active.name, Err: err}
		}
		j.fileSize += int64(len(c.data))
		j.stats.bytes.Add(int64(len(c.data)))
		j.pendEnd = c.end
		if !j.always {
			j.publish(j.active, j.fileSize, c.end)
		}
	}
	return nil
}

// publish makes a segment's records up to size/end readable.
func (j *Journal) publish(s *segment, size int64, end uint64) {
	s.size.Store(size)
	s.end.Store(end)
	s.modTime.Store(j.opts.Now().UnixNano())
	j.broadcast()
}

// rollLocked seals the active segment (fsyncing it) and creates s: written
// under a temporary name, fsynced, renamed, and the directory fsynced, so a
// segment file under its real name always has a durable header and a new
// segment's records are never acknowledged before its name is durable.
func (j *Journal) rollLocked(s *segment) error {
	if old := j.active; old != nil {
		if err := j.sealActive(s.base); err != nil {
			return err
		}
	}
	path := filepath.Join(j.dir, s.name)
	tmp := path + tmpSuffix
	f, err := j.fs.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return &WriteError{Op: "create", Segment: s.name, Err: err}
	}
	fail := func(op string, err error) error {
		f.Close()
		return &WriteError{Op: op, Segment: s.name, Err: err}
	}
	if _, err := f.Write(s.hdr); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := j.fs.Rename(tmp, path); err != nil {
		return fail("rename", err)
	}
	if err := j.fs.SyncDir(j.dir); err != nil {
		return fail("sync dir", err)
	}
	j.active, j.file, j.fileSize = s, f, int64(len(s.hdr))
	j.stats.segments.Add(1)
	s.size.Store(j.fileSize)
	s.end.Store(s.base)
	s.modTime.Store(j.opts.Now().UnixNano())
	j.mu.Lock()
	j.segs = append(j.segs, s)
	j.mu.Unlock()
	// The new segment is durable; list it (and the sealed end of the old
	// one) before anything in it is acknowledged.
	if err := j.writeManifest(); err != nil {
		return &WriteError{Op: "write manifest", Segment: s.name, Err: err}
	}
	j.applyRetention()
	return nil
}

// sealActive fsyncs and closes the active segment, whose records end at
// offset end, and makes its final size readable. flushMu must be held; it
// waits for an fsync in progress (syncMu), which only a rollover or Close
// does.
func (j *Journal) sealActive(end uint64) error {
	old := j.active
	j.syncMu.Lock()
	defer j.syncMu.Unlock()
	if j.synced.Load() < j.pendEnd {
		j.stats.fsyncs.Add(1)
		if err := j.file.Sync(); err != nil {
			return &WriteError{Op: "fsync", Segment: old.name, Err: err}
		}
	}
	j.publish(old, j.fileSize, end)
	old.sealed.Store(true)
	err := j.file.Close()
	j.active, j.file = nil, nil
	if err != nil {
		return &WriteError{Op: "close", Segment: old.name, Err: err}
	}
	j.synced.Store(max(j.synced.Load(), end))
	return nil
}

// broadcast wakes every reader waiting for new records.
func (j *Journal) broadcast() {
	j.notifyMu.Lock()
	close(j.notify)
	j.notify = make(chan struct{})
	j.notifyMu.Unlock()
}

// changed returns a channel closed at the next broadcast.
func (j *Journal) changed() <-chan struct{} {
	j.notifyMu.Lock()
	defer j.notifyMu.Unlock()
	return j.notify
}

func (j *Journal) background() {
	defer j.wg.Done()
	flushEvery := time.Duration(0)
	switch {
	case j.opts.Sync == SyncNever:
		flushEvery = j.opts.FlushInterval
	case j.opts.Sync > 0:
		flushEvery = time.Duration(j.opts.Sync)
	}
	var flushC, retainC <-chan time.Time
	if flushEvery > 0 {
		c, stop := newFlushTicker(flushEvery)
		defer stop()
		flushC = c
	}
	if age := j.opts.RetentionAge; age > 0 {
		t := time.NewTicker(min(max(age/10, time.Millisecond), time.Minute))
		defer t.Stop()
		retainC = t.C
	}
	for {
		select {
		case <-j.stop:
			return
		case <-flushC:
			// Write what is buffered, then let the syncer fsync it: the
			// next tick writes again even while that fsync is slow.
			if j.flush(false) == nil && j.syncKick != nil {
				select {
				case j.syncKick <- struct{}{}:
				default:
				}
			}
		case <-retainC:
			j.applyRetention()
		}
	}
}

// newFlushTicker makes the ticker that paces periodic writes; tests
// replace it to drive the clock by hand.
var newFlushTicker = func(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// syncer fsyncs, under SyncInterval, what background has written.
func (j *Journal) syncer() {
	defer j.wg.Done()
	for {
		select {
		case <-j.stop:
			return
		case <-j.syncKick:
			j.flush(true) // a failure is kept in j.err and returned by Append
		}
	}
}

// applyRetention deletes the oldest sealed segments that the retention
// options no longer keep. The newest segment is always kept.
func (j *Journal) applyRetention() {
	if j.opts.RetentionBytes <= 0 && j.opts.RetentionAge <= 0 {
		return
	}
	now := j.opts.Now().UnixNano()
	j.mu.Lock()
	var total int64
	for _, s := range j.segs {
		if s.sealed.Load() {
			total += s.size.Load()
		}
	}
	var victims []*segment
	for len(j.segs) > 1 && j.segs[0].sealed.Load() {
		s := j.segs[0]
		old := j.opts.RetentionAge > 0 && now-s.modTime.Load() > int64(j.opts.RetentionAge)
		big := j.opts.RetentionBytes > 0 && total > j.opts.RetentionBytes
		if !old && !big {
			break
		}
		victims = append(victims, s)
		total -= s.size.Load()
		j.segs = j.segs[1:]
		j.removedBase = s.end.Load()
	}
	j.mu.Unlock()
	if len(victims) == 0 {
		return
	}
	// The manifest goes first, so that a crash before the files are gone
	// leaves leftovers that Open removes, never a listed segment missing.
	if err := j.writeManifest(); err != nil {
		return // the files stay; the next retention pass or Open deals with them
	}
	for _, s := range victims {
		j.fs.Remove(filepath.Join(j.dir, s.name)) // best effort: a leftover is removed next time
	}
	if len(victims) > 0 {
		j.fs.SyncDir(j.dir)
	}
}

// Close writes out and fsyncs every appended record, stops the background
// goroutines and releases the directory. It returns the journal's
// *[WriteError] if one stopped it. Calling Close again returns nil. The
// final fsync is not abandoned when ctx ends (a closed journal's records
// are durable); ctx is accepted for [semevent.Closer].
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.stop)
	j.wg.Wait()
	err := j.flush(true)
	j.flushMu.Lock()
	j.syncMu.Lock()
	if j.file != nil {
		if cerr := j.file.Close(); err == nil && cerr != nil {
			err = &WriteError{Op: "close", Segment: j.active.name, Err: cerr}
		}
		j.active.sealed.Store(true)
		j.file = nil
	}
	j.syncMu.Unlock()
	j.flushMu.Unlock()
	j.finished.Store(true)
	if j.lock != nil {
		if lerr := j.lock.Close(); err == nil {
			err = lerr
		}
	}
	j.broadcast()
	return err
}

var _ semevent.Closer = (*Journal)(nil)

// segmentFrom returns the created segment holding offset off (the one with
// the largest base not above it), or nil.
func (j *Journal) segmentFrom(off uint64) *segment {
	j.mu.Lock()
	defer j.mu.Unlock()
	i, found := slices.BinarySearchFunc(j.segs, off, func(s *segment, off uint64) int { return cmp.Compare(s.base, off) })
	if found {
		return j.segs[i]
	}
	if i == 0 {
		return nil
	}
	return j.segs[i-1]
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Name     string // file name in the journal directory
	First    uint64 // offset of its first record
	End      uint64 // offset after its last readable record
	Size     int64  // readable bytes, header included
	KeyID    string // encryption key id; empty for plaintext
	Created  time.Time
	Sealed   bool // no more records will be added
	MetaSize int  // bytes of metadata per record (see [Options.MetaSize])
}

// Segments describes the retained segments, oldest first.
func (j *Journal) Segments() []SegmentInfo {
	j.mu.Lock()
	segs := slices.Clone(j.segs)
	j.mu.Unlock()
	infos := make([]SegmentInfo, len(segs))
	for i, s := range segs {
		sealed := s.sealed.Load()
		infos[i] = SegmentInfo{Name: s.name, First: s.base, End: s.end.Load(), Size: s.size.Load(), KeyID: s.keyID, Created: s.created, Sealed: sealed, MetaSize: s.meta}
	}
	return infos
}
