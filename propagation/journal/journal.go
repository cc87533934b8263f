package journal

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
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
	scratch     []byte // plaintext of the record being encrypted

	flushMu  sync.Mutex // held while writing chunks out; guards the fields below
	active   *segment   // the segment open for writing, nil before the first write
	file     File
	fileSize int64
	dirty    bool   // written but not fsynced
	pendEnd  uint64 // offset after the last record written to file

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

// Open opens the journal in dir, creating dir if needed, and recovers it:
// leftovers of an interrupted segment creation are removed, every segment
// header is checked (and its key, for encrypted segments), and the last
// segment is scanned so that a torn tail is cut off (see [Journal.Recovery])
// while any other bad record fails Open with a *[CorruptError]. Records are
// always appended to a new segment, created on the first write.
func Open(dir string, opts *Options) (*Journal, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	j := &Journal{dir: dir, opts: o, fs: o.FS, always: o.Sync == SyncAlways, notify: make(chan struct{}), stop: make(chan struct{})}
	if err := j.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
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
	if err != nil {
		if j.lock != nil {
			j.lock.Close()
		}
		return nil, err
	}
	j.commitCond = sync.NewCond(&j.commitMu)
	j.synced.Store(j.next)
	j.pendEnd = j.next
	j.applyRetention()
	if !j.always || o.RetentionAge > 0 {
		j.wg.Add(1)
		go j.background()
	}
	return j, nil
}

// load reads the directory: segment headers, and the last segment in full.
func (j *Journal) load() error {
	entries, err := j.fs.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var bases []uint64
	removed := false
	for _, e := range entries {
		name := e.Name()
		if filepath.Ext(name) == tmpSuffix {
			if err := j.fs.Remove(filepath.Join(j.dir, name)); err != nil {
				return fmt.Errorf("journal: remove leftover: %w", err)
			}
			removed = true
			continue
		}
		if b, ok := parseSegmentName(name); ok {
			bases = append(bases, b)
		}
	}
	if removed {
		if err := j.fs.SyncDir(j.dir); err != nil {
			return fmt.Errorf("journal: sync dir: %w", err)
		}
	}
	slices.Sort(bases)
	for i, base := range bases {
		last := i == len(bases)-1
		s, err := j.loadSegment(base, last)
		if err != nil {
			return err
		}
		if !last {
			s.end.Store(bases[i+1])
			s.sealed.Store(true)
			j.segs = append(j.segs, s)
			continue
		}
		j.next = s.end.Load()
		if s.end.Load() == s.base { // no records: remove it, the next write makes a fresh one
			if err := j.fs.Remove(filepath.Join(j.dir, s.name)); err != nil {
				return fmt.Errorf("journal: remove empty segment: %w", err)
			}
			if err := j.fs.SyncDir(j.dir); err != nil {
				return fmt.Errorf("journal: sync dir: %w", err)
			}
			continue
		}
		s.sealed.Store(true)
		j.segs = append(j.segs, s)
	}
	j.removedBase = j.next
	return nil
}

// loadSegment reads a segment's header; for the last segment it also scans
// every record and cuts a torn tail.
func (j *Journal) loadSegment(base uint64, last bool) (*segment, error) {
	name := segmentName(base)
	path := filepath.Join(j.dir, name)
	f, err := j.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	size := st.Size()
	n := size
	if !last {
		n = min(size, maxHeaderSize)
	}
	data := make([]byte, n)
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	s, err := parseSegmentHeader(name, base, data, j.opts.Encryption)
	if err != nil {
		return nil, err
	}
	s.modTime.Store(st.ModTime().UnixNano())
	s.size.Store(size)
	s.end.Store(base)
	if !last {
		return s, nil
	}
	valid, end, err := scanRecords(name, base, data, len(s.hdr), j.opts.MaxRecordSize)
	if err != nil {
		return nil, err
	}
	if valid < size {
		if err := j.truncate(path, valid); err != nil {
			return nil, err
		}
		j.recovery = &Recovery{Segment: name, Pos: valid, Dropped: size - valid, Next: end}
		s.size.Store(valid)
	}
	s.end.Store(end)
	return s, nil
}

func (j *Journal) truncate(path string, size int64) error {
	f, err := j.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("journal: recover: %w", err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("journal: recover: cut torn tail of %s: %w", filepath.Base(path), err)
	}
	return nil
}

// scanRecords checks the records of a whole segment file in data, from
// byte start, and returns the size of its valid prefix and the offset after
// the last valid record. A bad record followed by no valid record is a
// torn tail; a bad record followed by a valid one is corruption, reported as
// a *CorruptError.
func scanRecords(name string, base uint64, data []byte, start, maxRec int) (int64, uint64, error) {
	pos, off := start, base
	for {
		if l, ok := recordOK(data, pos, off, maxRec); ok {
			pos += recHeader + l
			off++
			continue
		}
		if pos == len(data) {
			return int64(pos), off, nil
		}
		// Is anything valid after the bad record? Try every byte position.
		for q := pos + 1; q+recHeader <= len(data); q++ {
			qo := binary.LittleEndian.Uint64(data[q+8:])
			if qo <= off || qo-off > uint64(len(data)-pos)/recHeader {
				continue
			}
			if _, ok := recordOK(data, q, qo, maxRec); ok {
				return 0, 0, &CorruptError{Segment: name, Pos: int64(pos), Offset: off,
					Reason: fmt.Sprintf("%s (valid record at offset %d follows at byte %d)", recordProblem(data, pos, off, maxRec), qo, q)}
			}
		}
		return int64(pos), off, nil
	}
}

// recordOK checks the framing and CRC of the record at data[pos:], which
// should have offset off, and returns its body length.
func recordOK(data []byte, pos int, off uint64, maxRec int) (int, bool) {
	if len(data)-pos < recHeader {
		return 0, false
	}
	h := data[pos : pos+recHeader]
	l := int(binary.LittleEndian.Uint32(h))
	if l == 0 || l > maxRec-recHeader || binary.LittleEndian.Uint64(h[8:]) != off || len(data)-pos-recHeader < l {
		return 0, false
	}
	return l, binary.LittleEndian.Uint32(h[4:]) == recordCRC(h, data[pos+recHeader:pos+recHeader+l])
}

// recordProblem says why recordOK rejects the record at data[pos:].
func recordProblem(data []byte, pos int, off uint64, maxRec int) string {
	if len(data)-pos < recHeader {
		return fmt.Sprintf("%d-byte partial record header", len(data)-pos)
	}
	h := data[pos : pos+recHeader]
	l := int(binary.LittleEndian.Uint32(h))
	switch o := binary.LittleEndian.Uint64(h[8:]); {
	case l == 0 || l > maxRec-recHeader:
		return fmt.Sprintf("bad record length %d", l)
	case o != off:
		return fmt.Sprintf("record offset %d out of sequence", o)
	case len(data)-pos-recHeader < l:
		return fmt.Sprintf("record of %d bytes cut at %d", l, len(data)-pos-recHeader)
	}
	return fmt.Sprintf("checksum %#08x, want %#08x", binary.LittleEndian.Uint32(h[4:]), recordCRC(h, data[pos+recHeader:pos+recHeader+l]))
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
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	first, end, full, err := j.enqueue(evs)
	if err != nil {
		return 0, err
	}
	if j.always {
		return first, j.commit(end)
	}
	if full {
		j.flushMu.Lock()
		err = j.flushLocked(false)
		j.flushMu.Unlock()
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
	j.flushMu.Lock()
	err := j.flushLocked(true)
	j.flushMu.Unlock()

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
	j.flushMu.Lock()
	defer j.flushMu.Unlock()
	if j.synced.Load() >= end {
		return nil
	}
	return j.flushLocked(true)
}

// enqueue frames evs into the chunk buffers and assigns their offsets. full
// reports that BufferSize bytes or more now wait to be written.
func (j *Journal) enqueue(evs []*semevent.Event) (first, end uint64, full bool, err error) {
	for _, ev := range evs {
		if ev == nil {
			return 0, 0, false, fmt.Errorf("journal: %w", semevent.ErrNilEvent)
		}
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
	origTail := j.tail
	mark := len(j.chunks)
	var markLen int
	if mark > 0 {
		markLen = len(j.chunks[mark-1].data)
	}
	for _, ev := range evs {
		if err := j.enqueueLocked(ev); err != nil {
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
			j.tail = nil // recompute the projected segment sizes: start a fresh segment
			return 0, 0, false, err
		}
	}
	return first, j.next, j.bufBytes >= j.opts.BufferSize, nil
}

func (j *Journal) enqueueLocked(ev *semevent.Event) error {
	off := j.next
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
	recLen := int64(recHeader + bodyLen)
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
	if enc != nil {
		var nonce [12]byte
		c.data = j.tail.aead.Seal(c.data, recordNonce(&nonce, off), plain, nil)
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
	s, err := newSegmentHeader(base, j.opts.Now(), j.opts.Encryption, salt)
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

// flushLocked writes out every enqueued record and, if doSync (or the
// policy is SyncAlways), fsyncs. flushMu must be held. The first failure is
// kept in j.err and returned from then on: nothing more is acknowledged.
func (j *Journal) flushLocked(doSync bool) error {
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

	doSync = doSync || j.always
	err := j.writeChunks(chunks, doSync)
	if err == nil && doSync && j.dirty {
		j.stats.fsyncs.Add(1)
		if serr := j.file.Sync(); serr != nil {
			err = &WriteError{Op: "fsync", Segment: j.active.name, Err: serr}
		} else {
			j.dirty = false
		}
	}
	j.mu.Lock()
	if err != nil && j.err == nil {
		j.err = err
	}
	for i := range chunks {
		chunks[i].seg = nil
	}
	j.spare = append(j.spare, chunks...)
	j.mu.Unlock()
	if err != nil {
		j.broadcast()
		return err
	}
	if doSync {
		j.synced.Store(j.pendEnd)
		if j.always && j.active != nil {
			j.publish(j.active, j.fileSize, j.pendEnd)
		}
	}
	return nil
}

func (j *Journal) writeChunks(chunks []chunk, doSync bool) error {
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
		j.dirty = true
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
		if j.dirty {
			j.stats.fsyncs.Add(1)
			if err := j.file.Sync(); err != nil {
				return &WriteError{Op: "fsync", Segment: old.name, Err: err}
			}
			j.dirty = false
		}
		j.publish(old, j.fileSize, s.base)
		old.sealed.Store(true)
		if err := j.file.Close(); err != nil {
			return &WriteError{Op: "close", Segment: old.name, Err: err}
		}
		j.active, j.file = nil, nil
		j.synced.Store(s.base)
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
	j.active, j.file, j.fileSize, j.dirty = s, f, int64(len(s.hdr)), false
	j.stats.segments.Add(1)
	s.size.Store(j.fileSize)
	s.end.Store(s.base)
	s.modTime.Store(j.opts.Now().UnixNano())
	j.mu.Lock()
	j.segs = append(j.segs, s)
	j.mu.Unlock()
	j.applyRetention()
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
		t := time.NewTicker(flushEvery)
		defer t.Stop()
		flushC = t.C
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
			j.flushMu.Lock()
			j.flushLocked(j.opts.Sync > 0) // a failure is kept in j.err and returned by Append
			j.flushMu.Unlock()
		case <-retainC:
			j.applyRetention()
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
	for _, s := range victims {
		j.fs.Remove(filepath.Join(j.dir, s.name)) // best effort: a leftover is removed next time
	}
	if len(victims) > 0 {
		j.fs.SyncDir(j.dir)
	}
}

// Close writes out and fsyncs every appended record, stops the background
// goroutine and releases the directory. It returns the journal's
// *[WriteError] if one stopped it. Calling Close again returns nil.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.stop)
	j.wg.Wait()
	j.flushMu.Lock()
	err := j.flushLocked(true)
	if j.file != nil {
		if cerr := j.file.Close(); err == nil && cerr != nil {
			err = &WriteError{Op: "close", Segment: j.active.name, Err: cerr}
		}
		j.active.sealed.Store(true)
		j.file = nil
	}
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

func (j *Journal) isClosed() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.closed
}

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
	Name    string // file name in the journal directory
	First   uint64 // offset of its first record
	End     uint64 // offset after its last readable record
	Size    int64  // readable bytes, header included
	KeyID   string // encryption key id; empty for plaintext
	Created time.Time
	Sealed  bool // no more records will be added
}

// Segments describes the retained segments, oldest first.
func (j *Journal) Segments() []SegmentInfo {
	j.mu.Lock()
	segs := slices.Clone(j.segs)
	j.mu.Unlock()
	infos := make([]SegmentInfo, len(segs))
	for i, s := range segs {
		sealed := s.sealed.Load()
		infos[i] = SegmentInfo{Name: s.name, First: s.base, End: s.end.Load(), Size: s.size.Load(), KeyID: s.keyID, Created: s.created, Sealed: sealed}
	}
	return infos
}
