package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// Store keeps encoded records in order. A Store is used by one Log.
type Store interface {
	// Append stores one encoded record after the previous ones.
	Append(rec []byte) error
	// Sync makes every appended record durable.
	Sync() error
	// Last returns the last stored record, if any, so that a Log can
	// continue the chain after a restart.
	Last() ([]byte, bool)
	Close() error
}

// Errors.
var (
	// ErrNoKey is returned by New without a signing key.
	ErrNoKey = errors.New("audit: no ed25519 signing key")
	// ErrFailed is wrapped by every Append after a store failure: the log
	// records nothing more, so that no gap can hide in it.
	ErrFailed = errors.New("audit: log failed")
)

// Options configure a Log.
type Options struct {
	// Key signs checkpoints. Required.
	Key ed25519.PrivateKey
	// CheckpointEvery is how many records a checkpoint covers at most.
	// Default 64.
	CheckpointEvery int
	// Now returns the time in Unix nanoseconds; default semevent.Now.
	Now func() int64
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

	mu       sync.Mutex // guards the fields below
	seq      uint64
	prev     [32]byte
	unsigned int // records since the last checkpoint
	failed   error
	closed   bool
	scratch  []byte
}

// New returns a Log writing to store, continuing its chain if it has
// records.
func New(store Store, opts *Options) (*Log, error) {
	if opts == nil || len(opts.Key) != ed25519.PrivateKeySize {
		return nil, ErrNoKey
	}
	l := &Log{store: store, key: opts.Key, every: opts.CheckpointEvery, now: opts.Now}
	if l.every <= 0 {
		l.every = 64
	}
	if l.now == nil {
		l.now = semevent.Now
	}
	if last, ok := store.Last(); ok {
		r, err := Decode(last)
		if err != nil {
			return nil, fmt.Errorf("audit: cannot continue the chain: %w", err)
		}
		l.seq, l.prev = r.Seq+1, r.Hash()
		if r.Kind != Checkpoint {
			l.unsigned = 1
		}
	}
	return l, nil
}

// Append adds r to the trail, setting its Seq, Time (when zero) and Prev.
func (l *Log) Append(r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.appendLocked(&r); err != nil {
		return err
	}
	l.unsigned++
	if l.unsigned >= l.every {
		return l.checkpointLocked()
	}
	return nil
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
	l.scratch = r.AppendBinary(l.scratch[:0])
	if err := l.store.Append(l.scratch); err != nil {
		l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		return l.failed
	}
	l.seq++
	l.prev = sha256Sum(l.scratch)
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
	cp := Record{Kind: Checkpoint, Sig: ed25519.Sign(l.key, signedBytes(l.seq, l.prev))}
	if err := l.appendLocked(&cp); err != nil {
		return err
	}
	l.unsigned = 0
	if err := l.store.Sync(); err != nil {
		l.failed = fmt.Errorf("%w: %w", ErrFailed, err)
		return l.failed
	}
	return nil
}

// Close writes a final checkpoint and closes the store.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	err := l.checkpointLocked()
	l.closed = true
	return errors.Join(err, l.store.Close())
}

// signedBytes is what a checkpoint at sequence number seq signs: the
// domain, the sequence number and the hash of the record before it.
func signedBytes(seq uint64, prev [32]byte) []byte {
	b := []byte("semevent audit checkpoint v1\x00")
	b = binary.BigEndian.AppendUint64(b, seq)
	return append(b, prev[:]...)
}

// FileStore is a Store in one append-only file of frames: a 4-byte
// little-endian length, then the record.
type FileStore struct {
	f    *os.File
	w    *bufio.Writer
	last []byte
}

// OpenFile opens or creates the audit file at path. Existing frames must
// be whole: a torn last frame is an error (use VerifyFile to see where).
func OpenFile(path string) (*FileStore, error) {
	recs, _, err := readFrames(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	s := &FileStore{f: f, w: bufio.NewWriter(f)}
	if len(recs) > 0 {
		s.last = recs[len(recs)-1].data
	}
	return s, nil
}

func (s *FileStore) Append(rec []byte) error {
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], uint32(len(rec)))
	s.w.Write(hdr[:])
	_, err := s.w.Write(rec)
	s.last = append(s.last[:0], rec...)
	return err
}

func (s *FileStore) Sync() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.f.Sync()
}

func (s *FileStore) Last() ([]byte, bool) { return s.last, s.last != nil }

func (s *FileStore) Close() error { return errors.Join(s.Sync(), s.f.Close()) }

// frame is one stored record and where it starts in the file.
type frame struct {
	off  int64
	data []byte
}

// readFrames reads every whole frame of the file at path; a torn last
// frame is reported as a *VerifyError after the whole ones.
func readFrames(path string) ([]frame, int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	var out []frame
	off := int64(0)
	for off < int64(len(b)) {
		if int64(len(b))-off < 4 {
			return out, off, &VerifyError{Index: len(out), Offset: off, Reason: "truncated frame header"}
		}
		n := int64(binary.LittleEndian.Uint32(b[off:]))
		if n > MaxRecordSize || int64(len(b))-off-4 < n {
			return out, off, &VerifyError{Index: len(out), Offset: off, Reason: fmt.Sprintf("truncated or oversized frame of %d bytes", n)}
		}
		out = append(out, frame{off: off, data: b[off+4 : off+4+n]})
		off += 4 + n
	}
	return out, off, nil
}

// JournalStore is a Store on a semevent journal: each record is an event of
// topic "audit.record" whose Data is the encoded record, so the trail gets
// the journal's durability (and its encryption at rest, if configured).
type JournalStore struct {
	j    *journal.Journal
	last []byte
}

// AuditTopic is the topic of the events a JournalStore writes.
const AuditTopic = "audit.record"

// NewJournalStore returns a Store on j, continuing after the last audit
// record j holds.
func NewJournalStore(j *journal.Journal) (*JournalStore, error) {
	recs, err := ReadJournal(j)
	if err != nil {
		return nil, err
	}
	s := &JournalStore{j: j}
	if len(recs) > 0 {
		s.last = recs[len(recs)-1]
	}
	return s, nil
}

func (s *JournalStore) Append(rec []byte) error {
	ev := &semevent.Event{Kind: semevent.KindCustom, Topic: AuditTopic, Data: append([]byte(nil), rec...)}
	if _, err := s.j.Append(context.Background(), ev); err != nil {
		return err
	}
	s.last = ev.Data
	return nil
}

func (s *JournalStore) Sync() error          { return s.j.Sync(context.Background()) }
func (s *JournalStore) Last() ([]byte, bool) { return s.last, s.last != nil }

// Close does not close the journal, which belongs to the caller.
func (s *JournalStore) Close() error { return s.Sync() }

// ReadJournal returns the encoded audit records j holds, in order.
func ReadJournal(j *journal.Journal) ([][]byte, error) {
	r, err := j.NewReader(j.FirstOffset())
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]byte
	for {
		var ev semevent.Event
		_, err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if ev.Topic == AuditTopic {
			out = append(out, ev.Data)
		}
	}
}
