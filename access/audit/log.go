package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/journalrec"
	"github.com/vexfs/semevent/propagation/journal"
)

// Store keeps encoded records in order. A Store is used by one Log.
type Store interface {
	// Append stores one encoded record after the previous ones.
	Append(rec []byte) error
	// Sync makes every appended record durable.
	Sync() error
	// Records calls fn with every stored record, in order, and stops at
	// fn's first error, which it returns. fn must not keep rec. A Log
	// reads the whole trail once, in New, to verify it before it appends
	// anything.
	Records(fn func(rec []byte) error) error
	Close() error
}

// Errors.
var (
	// ErrFailed is wrapped by every Append after a store failure: the log
	// records nothing more, so that no gap can hide in it.
	ErrFailed = errors.New("audit: log failed")
	// ErrUnsignedTail is wrapped by the *UnsignedTailError New returns.
	ErrUnsignedTail = errors.New("audit: records after the last signed checkpoint")
)

// UnsignedTailError is New's refusal of a trail that ends with records no
// checkpoint signed: they may have been forged while the log was stopped
// (or the previous run crashed before its checkpoint). Inspect them, then
// either restore the trail or set Options.QuarantineUnsignedTail.
type UnsignedTailError struct {
	First uint64 // the first unsigned record's sequence number
	Count int    // how many there are
	// Damaged, when not nil, says where the trail's end stops being
	// whole records of the trail (a write torn by a crash, or bytes
	// planted after the last signed record): the first record that did
	// not verify. No signed record of the trail follows it.
	Damaged *VerifyError
}

func (e *UnsignedTailError) Error() string {
	msg := fmt.Sprintf("audit: %d records from sequence number %d are not covered by a signed checkpoint", e.Count, e.First)
	if e.Damaged != nil {
		msg += fmt.Sprintf(", and the trail ends with bytes that are not records of it (%v)", e.Damaged)
	}
	return msg + ": refusing to sign them (Options.QuarantineUnsignedTail marks them instead)"
}

// TailCutter is an optional ability of a Store (a FileStore has it):
// CutTail moves every byte stored after the first n records out of the
// trail, keeping them for inspection, and says where they went. With
// Options.QuarantineUnsignedTail, New cuts a damaged end (a write torn by
// a crash) so that the next record starts on a whole one.
type TailCutter interface {
	CutTail(n int) (where string, err error)
}

// Unwrap returns ErrUnsignedTail and, when the end is damaged, the
// *VerifyError that says where.
func (e *UnsignedTailError) Unwrap() []error {
	if e.Damaged != nil {
		return []error{ErrUnsignedTail, e.Damaged}
	}
	return []error{ErrUnsignedTail}
}

// Options configure a Log.
type Options struct {
	// Key signs checkpoints. Required.
	Key ed25519.PrivateKey
	// CheckpointEvery is how many records a checkpoint covers at most.
	// Default 64.
	CheckpointEvery int
	// Now returns the time in Unix nanoseconds; default semevent.Now.
	Now func() int64
	// Trail, when not zero, is the identity the stored trail must have
	// (a new trail is created with it). Zero accepts the stored trail's
	// identity, or makes a random one for a new trail; Log.Trail returns
	// it, to keep beside the public key.
	Trail TrailID
	// Anchor, when set, is a chain head kept outside the trail
	// (Log.Head of the previous run): the stored trail must still hold
	// it, so a trail cut back or replaced is refused.
	Anchor *Anchor
	// QuarantineUnsignedTail makes New continue a trail that ends with
	// unsigned records: it appends a signed Quarantine record saying
	// they are not vouched for (Report.Quarantined counts them) instead
	// of refusing with an *UnsignedTailError.
	QuarantineUnsignedTail bool
	// QueueSize bounds the records Enqueue holds for the writer
	// goroutine; when it is full Enqueue drops the record and counts it
	// (Stats.Dropped), and the next record written says how many were
	// lost. Default 4096.
	QueueSize int
}

// Validate reports every problem of o as a *semevent.OptionsError; nil
// (no key) is one.
func (o *Options) Validate() error {
	e := &semevent.OptionsError{Options: "audit.Options"}
	if o == nil {
		e.Addf("Key", "no ed25519 signing key")
		return e
	}
	if len(o.Key) != ed25519.PrivateKeySize {
		e.Addf("Key", "%d bytes, want an ed25519 private key of %d", len(o.Key), ed25519.PrivateKeySize)
	}
	if o.CheckpointEvery < 0 {
		e.Addf("CheckpointEvery", "%d is negative", o.CheckpointEvery)
	}
	if o.QueueSize < 0 {
		e.Addf("QueueSize", "%d is negative", o.QueueSize)
	}
	return e.Err()
}

// DefaultQueueSize is the default Options.QueueSize.
const DefaultQueueSize = 4096

// Stats are a Log's counters.
type Stats struct {
	Records uint64 // records written, checkpoints included
	Dropped uint64 // records Enqueue dropped because its queue was full
	Queued  int    // records waiting in the queue
}

// Log appends records to a Store, chaining each to the one before by hash
// and signing the chain head with ed25519 in a checkpoint record every
// CheckpointEvery records, on Checkpoint and on Close. Its methods may be
// called concurrently.
type Log struct {
	store Store
	key   ed25519.PrivateKey
	every int
	now   func() int64
	trail TrailID

	q       chan Record        // Enqueue → writer
	flushes chan chan struct{} // Flush → writer
	done    chan struct{}      // closed when the writer returns
	qmu     sync.RWMutex       // guards qclosed against a send on a closed q
	qclosed bool
	dropped atomic.Uint64 // since New
	lost    atomic.Uint64 // dropped and not yet said in the trail
	written atomic.Uint64

	mu       sync.Mutex // guards the fields below
	seq      uint64
	prev     [32]byte
	unsigned int // records since the last checkpoint
	failed   error
	closed   bool
	scratch  []byte
}

// New returns a Log writing to store. A store that holds records is
// verified first, whole: it must be a trail this key signed (with
// opts.Trail's identity and holding opts.Anchor, when given) and end with
// a signed record. Otherwise New returns the *VerifyError, or an
// *UnsignedTailError, and appends nothing. An empty store gets a new
// trail: an Open record naming its identity, signed and synced. Invalid
// options (no key) are a *semevent.OptionsError.
func New(store Store, opts *Options) (*Log, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	l := &Log{store: store, key: opts.Key, every: opts.CheckpointEvery, now: opts.Now}
	if l.every <= 0 {
		l.every = 64
	}
	if l.now == nil {
		l.now = semevent.Now
	}
	v, err := newVerifier(opts.Key.Public().(ed25519.PublicKey), &VerifyOptions{AllowUnsignedTail: true, Anchor: opts.Anchor, Trail: opts.Trail})
	if err != nil {
		return nil, err
	}
	// A record that does not verify is a damaged end only if no record
	// signed for this trail follows it: a crash tears the last write,
	// while a signed record after the damage means the trail was
	// tampered with, and that is refused.
	var damaged *VerifyError
	signedAfter := false
	err = store.Records(func(rec []byte) error {
		if damaged == nil {
			err := v.add(rec, -1)
			if !errors.As(err, &damaged) {
				return err
			}
			return nil
		}
		if r, err := Decode(rec); err == nil && r.Kind.Signed() && ed25519.Verify(v.pub, signedBytes(v.rep.Trail, r), r.Sig) {
			signedAfter = true
		}
		return nil
	})
	if torn := (*VerifyError)(nil); errors.As(err, &torn) {
		err = nil // the store's own torn end
		if damaged == nil {
			damaged = torn
		}
	}
	if err == nil && damaged != nil && signedAfter {
		err = damaged
	}
	if err != nil {
		return nil, fmt.Errorf("audit: refusing to continue the stored trail: %w", err)
	}
	if err := v.finish(-1); err != nil && !(v.i == 0 && opts.Anchor == nil) {
		return nil, fmt.Errorf("audit: refusing to continue the stored trail: %w", err)
	}
	rep := v.rep
	cut := ""
	if damaged != nil {
		if !opts.QuarantineUnsignedTail {
			return nil, &UnsignedTailError{First: nextSeq(&rep), Count: rep.Unsigned, Damaged: damaged}
		}
		tc, ok := store.(TailCutter)
		if !ok {
			return nil, fmt.Errorf("audit: refusing to continue the stored trail: its store cannot cut its damaged end: %w", damaged)
		}
		where, err := tc.CutTail(v.i)
		if err != nil {
			return nil, fmt.Errorf("audit: cutting the trail's damaged end (%v): %w", damaged, err)
		}
		cut = fmt.Sprintf("; the bytes after record %d, which are not whole records of the trail (%s), were moved to %s", v.i, damaged.Reason, where)
	}
	if rep.Records == 0 {
		l.trail = opts.Trail
		if l.trail == (TrailID{}) {
			l.trail = NewTrailID()
		}
		if err := l.signedLocked(Open, "", ""); err != nil {
			return nil, err
		}
		if cut != "" {
			if err := l.signedLocked(Quarantine, "audit.trail", "the stored file held no record of a trail"+cut); err != nil {
				return nil, err
			}
		}
	} else {
		l.trail = rep.Trail
		l.seq, l.prev = rep.Head.Seq+1, rep.Head.Hash
		if rep.Unsigned > 0 || cut != "" {
			if !opts.QuarantineUnsignedTail {
				return nil, &UnsignedTailError{First: rep.Signed.Seq + 1, Count: rep.Unsigned}
			}
			l.unsigned = rep.Unsigned
			reason := fmt.Sprintf("records %d to %d were found after the last signed record when the trail was reopened: they are not vouched for",
				rep.Signed.Seq+1, rep.Head.Seq)
			if rep.Unsigned == 0 {
				reason = "no record was found after the last signed record when the trail was reopened"
			}
			reason += cut
			if err := l.signedLocked(Quarantine, "audit.trail", reason); err != nil {
				return nil, err
			}
		}
	}
	size := opts.QueueSize
	if size <= 0 {
		size = DefaultQueueSize
	}
	l.q, l.flushes, l.done = make(chan Record, size), make(chan chan struct{}), make(chan struct{})
	go l.writer()
	return l, nil
}

// Append adds r to the trail, setting its Seq, Time (when zero) and Prev,
// and returns once the store has it (and, at a checkpoint, synced it).
func (l *Log) Append(r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendCheckpointLocked(&r)
}

func (l *Log) appendCheckpointLocked(r *Record) error {
	if err := l.appendLocked(r); err != nil {
		return err
	}
	l.unsigned++
	if l.unsigned >= l.every {
		return l.checkpointLocked()
	}
	return nil
}

// Enqueue adds r to the trail later, from the Log's writer goroutine,
// without waiting: for callers that must not block on the trail's disk,
// such as a bus delivering events. When the queue (Options.QueueSize) is
// full, r is dropped and counted, and the next record written says how
// many were lost. It reports whether r was queued.
func (l *Log) Enqueue(r Record) bool {
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	if !l.qclosed {
		select {
		case l.q <- r:
			return true
		default:
		}
	}
	l.dropped.Add(1)
	l.lost.Add(1)
	return false
}

// Flush waits until every record Enqueue queued before the call is
// written, or ctx ends.
func (l *Log) Flush(ctx context.Context) error {
	reply := make(chan struct{})
	select {
	case l.flushes <- reply:
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reply:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer writes queued records in batches, one lock per batch.
func (l *Log) writer() {
	defer close(l.done)
	for {
		select {
		case r, ok := <-l.q:
			if !ok {
				return
			}
			l.mu.Lock()
			l.writeQueuedLocked(&r)
			for n := 0; n < 256; n++ {
				select {
				case r, ok := <-l.q:
					if !ok {
						l.mu.Unlock()
						return
					}
					l.writeQueuedLocked(&r)
					continue
				default:
				}
				break
			}
			l.mu.Unlock()
		case reply := <-l.flushes:
			l.mu.Lock()
			for drained := false; !drained; {
				select {
				case r, ok := <-l.q:
					if !ok {
						drained = true
						break
					}
					l.writeQueuedLocked(&r)
				default:
					drained = true
				}
			}
			l.mu.Unlock()
			close(reply)
		}
	}
}

func (l *Log) writeQueuedLocked(r *Record) {
	if n := l.lost.Swap(0); n > 0 {
		lost := Record{Kind: Admin, Op: "audit", Target: "audit.queue", Reason: fmt.Sprintf("%d records dropped: the audit queue was full", n)}
		_ = l.appendCheckpointLocked(&lost)
	}
	// A failure is kept in l.failed for Append's callers.
	_ = l.appendCheckpointLocked(r)
}

func (l *Log) appendLocked(r *Record) error {
	if l.closed {
		return fmt.Errorf("audit: append: %w", semevent.ErrClosed)
	}
	if l.failed != nil {
		return l.failed
	}
	r.Seq, r.Prev = l.seq, l.prev
	if r.Time == 0 {
		r.Time = l.now()
	}
	if r.Kind.Signed() {
		r.Sig = ed25519.Sign(l.key, signedBytes(l.trail, r))
	}
	l.scratch = r.AppendBinary(l.scratch[:0])
	if err := l.store.Append(l.scratch); err != nil {
		l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		return l.failed
	}
	l.seq++
	l.prev = sha256Sum(l.scratch)
	l.written.Add(1)
	return nil
}

// Checkpoint signs the chain so far and syncs the store.
func (l *Log) Checkpoint() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.checkpointLocked()
}

func (l *Log) checkpointLocked() error {
	if l.unsigned == 0 {
		return nil
	}
	return l.signedLocked(Checkpoint, "", "")
}

// signedLocked appends a signed record of kind k and syncs the store.
func (l *Log) signedLocked(k Kind, target, reason string) error {
	r := Record{Kind: k, Target: target, Reason: reason}
	if k == Open {
		r.Target = l.trail.String()
	}
	if err := l.appendLocked(&r); err != nil {
		return err
	}
	l.unsigned = 0
	if err := l.store.Sync(); err != nil {
		l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		return l.failed
	}
	return nil
}

// nextSeq is the sequence number after rep's last signed record.
func nextSeq(rep *Report) uint64 {
	if rep.Checkpoints == 0 {
		return 0
	}
	return rep.Signed.Seq + 1
}

// Stats returns the Log's counters.
func (l *Log) Stats() Stats {
	return Stats{Records: l.written.Load(), Dropped: l.dropped.Load(), Queued: len(l.q)}
}

// Close writes what Enqueue queued, a final checkpoint, and closes the
// store. It is idempotent; when ctx ends first it returns ctx's error and
// a later Close finishes the work.
func (l *Log) Close(ctx context.Context) error {
	l.qmu.Lock()
	if !l.qclosed {
		l.qclosed = true
		close(l.q)
	}
	l.qmu.Unlock()
	select {
	case <-l.done:
	case <-ctx.Done():
		return fmt.Errorf("audit: close: %w", ctx.Err())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if n := l.lost.Swap(0); n > 0 {
		lost := Record{Kind: Admin, Op: "audit", Target: "audit.queue", Reason: fmt.Sprintf("%d records dropped: the audit queue was full", n)}
		_ = l.appendCheckpointLocked(&lost)
	}
	err := l.checkpointLocked()
	l.closed = true
	return errors.Join(err, l.store.Close())
}

// FileStore is a Store in one append-only file of frames: a 4-byte
// little-endian length, then the record. Sync flushes and fsyncs the file;
// the file's directory entry is fsynced when it is opened, so a trail
// created and synced survives a power loss.
type FileStore struct {
	fsys journal.FS
	path string
	f    journal.File
	w    *bufio.Writer
}

// OpenFile opens or creates the audit file at path in the operating
// system's file system: OpenFileFS(journal.OSFS(), path).
func OpenFile(path string) (*FileStore, error) { return OpenFileFS(journal.OSFS(), path) }

// OpenFileFS opens or creates the audit file at path in fsys (tests pass
// journaltest.CrashFS or FaultFS), and fsyncs its directory so that the
// file's name is durable. New reads and verifies the file whole before
// appending to it.
func OpenFileFS(fsys journal.FS, path string) (*FileStore, error) {
	f, err := fsys.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: fsync of the directory: %w", path, err)
	}
	return &FileStore{fsys: fsys, path: path, f: f, w: bufio.NewWriter(f)}, nil
}

func (s *FileStore) Append(rec []byte) error {
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(rec)))
	s.w.Write(hdr[:])
	_, err := s.w.Write(rec)
	return err
}

func (s *FileStore) Sync() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.f.Sync()
}

// Records reads the file's frames; a torn or oversized frame is a
// *VerifyError.
func (s *FileStore) Records(fn func(rec []byte) error) error {
	_, err := s.frames(func(rec []byte, _ int64) error { return fn(rec) })
	return err
}

// frames is scanFrames over the store's file.
func (s *FileStore) frames(fn func(rec []byte, off int64) error) (int64, error) {
	if err := s.w.Flush(); err != nil {
		return 0, err
	}
	f, err := s.fsys.OpenFile(s.path, os.O_RDONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return scanFrameReader(f, s.path, fn)
}

// errStopScan ends a scan of frames early.
var errStopScan = errors.New("stop")

// CutTail moves the bytes after the first n whole frames to a new file
// beside the trail (path.damaged-<offset>[-k], fsynced with its directory
// entry), then truncates the trail there and fsyncs it.
func (s *FileStore) CutTail(n int) (string, error) {
	i, cut := 0, int64(-1)
	end, err := s.frames(func(_ []byte, off int64) error {
		if i == n {
			cut = off
			return errStopScan
		}
		i++
		return nil
	})
	var ve *VerifyError
	switch {
	case cut >= 0:
	case err != nil && !errors.As(err, &ve):
		return "", err
	case i < n:
		return "", fmt.Errorf("audit: %s holds %d whole records, not %d", s.path, i, n)
	default:
		cut = end
	}
	r, err := s.fsys.OpenFile(s.path, os.O_RDONLY, 0)
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	tail, err := io.ReadAll(io.NewSectionReader(r, cut, MaxRecordSize+1<<30))
	r.Close()
	if err != nil {
		return "", fmt.Errorf("audit: %s: %w", s.path, err)
	}
	var aside journal.File
	where := fmt.Sprintf("%s.damaged-%d", s.path, cut)
	for k := 1; ; k++ {
		if aside, err = s.fsys.OpenFile(where, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); !errors.Is(err, fs.ErrExist) {
			break
		}
		where = fmt.Sprintf("%s.damaged-%d-%d", s.path, cut, k)
	}
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	_, err = aside.Write(tail)
	if err = errors.Join(err, aside.Sync(), aside.Close(), s.fsys.SyncDir(filepath.Dir(s.path))); err != nil {
		return "", fmt.Errorf("audit: %s: %w", where, err)
	}
	if err := errors.Join(s.f.Truncate(cut), s.f.Sync()); err != nil {
		return "", fmt.Errorf("audit: %s: cutting at byte %d: %w", s.path, cut, err)
	}
	return where, nil
}

func (s *FileStore) Close() error { return errors.Join(s.Sync(), s.f.Close()) }

// scanFrames calls fn with every whole frame of the file at path and its
// offset, reading in bounded chunks, and returns the file's length. A
// torn last frame is a *VerifyError after the whole ones.
func scanFrames(path string, fn func(rec []byte, off int64) error) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return scanFrameReader(f, path, fn)
}

// scanFrameReader is scanFrames over r; name is for errors.
func scanFrameReader(rd io.Reader, name string, fn func(rec []byte, off int64) error) (int64, error) {
	r := bufio.NewReader(rd)
	var buf []byte
	off := int64(0)
	for i := 0; ; i++ {
		var hdr [4]byte
		n, err := io.ReadFull(r, hdr[:])
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				return off, &VerifyError{Index: i, Offset: off, Reason: fmt.Sprintf("truncated frame header of %d bytes", n)}
			}
			return off, fmt.Errorf("audit: %s: %w", name, err)
		}
		size := int64(binary.LittleEndian.Uint32(hdr[:]))
		if size > MaxRecordSize {
			return off, &VerifyError{Index: i, Offset: off, Reason: fmt.Sprintf("oversized frame of %d bytes", size)}
		}
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return off, &VerifyError{Index: i, Offset: off, Reason: fmt.Sprintf("truncated frame of %d bytes", size)}
			}
			return off, fmt.Errorf("audit: %s: %w", name, err)
		}
		if err := fn(buf, off); err != nil {
			return off, err
		}
		off += 4 + size
	}
}

// JournalStore is a Store on a semevent journal: each record is an event of
// topic "audit.record" whose Data is the encoded record, so the trail gets
// the journal's durability (and its encryption at rest, if configured).
// Keep the trail in a journal users cannot publish to, or let an
// access.Authorizer refuse them the reserved topic (it does for tenants'
// principals): a forged "audit.record" event breaks the chain, and New
// then refuses to continue the trail.
type JournalStore struct {
	log *journalrec.Log
}

// AuditTopic is the topic of the events a JournalStore writes.
const AuditTopic = "audit.record"

// NewJournalStore returns a Store on j.
func NewJournalStore(j *journal.Journal) (*JournalStore, error) {
	return &JournalStore{log: auditLog(j)}, nil
}

func auditLog(j *journal.Journal) *journalrec.Log {
	return journalrec.New(j, semevent.KindCustom, AuditTopic)
}

func (s *JournalStore) Append(rec []byte) error {
	return s.log.Append(context.Background(), &semevent.Event{Data: append([]byte(nil), rec...)})
}

func (s *JournalStore) Sync() error { return s.log.Sync(context.Background()) }

// Records reads the audit records j holds, in order.
func (s *JournalStore) Records(fn func(rec []byte) error) error { return scanJournal(s.log, fn) }

// Close does not close the journal, which belongs to the caller.
func (s *JournalStore) Close() error { return s.Sync() }

// ReadJournal returns the encoded audit records j holds, in order.
func ReadJournal(j *journal.Journal) ([][]byte, error) {
	var out [][]byte
	err := scanJournal(auditLog(j), func(rec []byte) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

func scanJournal(l *journalrec.Log, fn func(rec []byte) error) error {
	return l.Each(context.Background(), func(_ uint64, ev *semevent.Event) error { return fn(ev.Data) })
}
