package journal

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/vexfs/semevent"
)

// SyncPolicy says when appended records are fsynced. The zero value is
// [SyncAlways].
type SyncPolicy time.Duration

const (
	// SyncAlways fsyncs before Append returns. Concurrent appenders share
	// one write and one fsync (group commit).
	SyncAlways SyncPolicy = 0
	// SyncNever leaves fsync to the operating system: records are written
	// every [Options.FlushInterval] and fsynced only at segment rollover,
	// [Journal.Sync] and [Journal.Close].
	SyncNever SyncPolicy = -1
)

// SyncInterval buffers appended records, writes them to the operating
// system every d (and whenever [Options.BufferSize] bytes are waiting),
// and fsyncs what was written right after each periodic write, on a
// goroutine of its own. Append returns once the record is buffered. A
// killed process loses at most the records acknowledged in the last d
// (plus the time one write takes): writing never waits for an fsync in
// progress. A power loss loses at most those plus the ones written since
// the last fsync that completed, so the bound is d plus the disk's fsync
// latency. d must be positive (SyncInterval(0) is SyncAlways).
func SyncInterval(d time.Duration) SyncPolicy { return SyncPolicy(d) }

func (p SyncPolicy) String() string {
	switch {
	case p == SyncAlways:
		return "always"
	case p == SyncNever:
		return "never"
	case p > 0:
		return "interval " + time.Duration(p).String()
	}
	return fmt.Sprintf("SyncPolicy(%d)", int64(p))
}

// Options configure [Open]. The zero value, and a nil *Options, mean
// defaults.
type Options struct {
	// FS is the file system the journal reads and writes through.
	// Default [OSFS](). Tests inject faults with journaltest.FaultFS and
	// simulate power loss with journaltest.CrashFS.
	FS FS

	// Logger receives what Open's recovery did and refused (component
	// "journal"): a torn tail cut off (warning, attributes "segment",
	// "offset" = the byte it was cut at, "dropped", "next"), leftovers of
	// an interrupted segment creation or retention removed (info, "path")
	// and a corrupt record that fails Open (error, "segment", "offset",
	// "reason", "err"). nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger

	// Node is the node number stamped into the IDs Append assigns to
	// events that have none.
	Node uint32

	// Sync is the fsync policy. Default [SyncAlways].
	Sync SyncPolicy

	// FlushInterval is how often buffered records are written out under
	// [SyncNever]. Default 10ms.
	FlushInterval time.Duration

	// BufferSize is how many bytes of buffered records make an Append
	// write them out at once under SyncInterval or SyncNever. Default 1 MiB.
	BufferSize int

	// SegmentSize is the size at which a segment is sealed and a new one
	// started. A record never spans segments; a record larger than
	// SegmentSize gets a segment of its own. Default 64 MiB.
	SegmentSize int64

	// MaxRecordSize bounds one encoded record (event plus framing) that
	// Append accepts. Default 16 MiB. It bounds new records only: records
	// already committed stay readable after a reopen with a smaller
	// MaxRecordSize (readers accept lengths up to 1 GiB, the largest
	// MaxRecordSize allowed); no option ever deletes committed records.
	MaxRecordSize int

	// RetentionBytes, when positive, deletes the oldest sealed segments
	// while the sealed segments together exceed it.
	RetentionBytes int64

	// RetentionAge, when positive, deletes sealed segments whose last
	// write is older than it. Checked at rollover, at Open, and every
	// RetentionAge/10 (at most every minute).
	RetentionAge time.Duration

	// Encryption, when non-nil, encrypts new segments with AES-256-GCM.
	Encryption *Encryption

	// Now returns the current time; default time.Now. Used for retention.
	Now func() time.Time

	// FirstOffset is the offset the first record of a new journal gets.
	// It applies only when Open creates the journal (dir holds no
	// MANIFEST and no segment) and is then kept in the MANIFEST, so a
	// reopen before the first append keeps it; an existing journal keeps
	// its own offsets whatever FirstOffset says. Default 0. coord/raft
	// starts the journal of a replica that fell behind retention at the
	// first offset the leader still holds, so that offsets stay the Raft
	// log's positions.
	FirstOffset uint64

	// MetaSize, 0 to [MaxMetaSize], is how many bytes of metadata every
	// record of a new segment carries beside its event: the meta given to
	// [Journal.AppendBatchMeta] (zeros for Append and AppendBatch), read
	// back with [Reader.Meta]. Each segment records its own meta size, so
	// reopening with a different MetaSize never rewrites old segments:
	// their records keep the meta they were written with, and the next
	// record starts a new segment with the new size. Default 0: records
	// carry none, and segments are written as before metadata existed.
	MetaSize int
}

// MaxMetaSize is the largest [Options.MetaSize].
const MaxMetaSize = 64

// Encryption configures encryption at rest. Each segment records the id of
// the key it was written with; to rotate keys, reopen with a new KeyID and
// keep the old keys in Keys for as long as segments written with them are
// retained.
type Encryption struct {
	// KeyID names the key new segments are written with: 1 to 64 bytes of
	// letters, digits, '.', '_' or '-'.
	KeyID string
	// Keys holds every key, by id, that reading may need, including KeyID.
	// Each key is 32 bytes (AES-256). Open copies the keys: changing or
	// zeroing the slices afterwards does not affect the journal.
	Keys map[string][]byte
	// AllowPlaintext lets the journal read plaintext segments, such as
	// those written before encryption was turned on. By default
	// encryption is required: Open fails with a *CorruptError on a
	// plaintext segment, so an attacker cannot inject plaintext records
	// into an encrypted journal.
	AllowPlaintext bool
}

// clone returns a deep copy of e (nil for nil).
func (e *Encryption) clone() *Encryption {
	if e == nil {
		return nil
	}
	c := *e
	c.Keys = make(map[string][]byte, len(e.Keys))
	for id, k := range e.Keys {
		c.Keys[id] = bytes.Clone(k)
	}
	return &c
}

// Defaults.
const (
	DefaultFlushInterval = 10 * time.Millisecond
	DefaultBufferSize    = 1 << 20
	DefaultSegmentSize   = 64 << 20
	DefaultMaxRecordSize = 16 << 20
	maxMaxRecordSize     = 1 << 30
)

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.FS == nil {
		c.FS = osFS{}
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.SegmentSize == 0 {
		c.SegmentSize = DefaultSegmentSize
	}
	if c.MaxRecordSize == 0 {
		c.MaxRecordSize = DefaultMaxRecordSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem with o (after defaults) in one
// *semevent.OptionsError, or returns nil.
func (o *Options) Validate() error {
	c := o.withDefaults()
	oe := &semevent.OptionsError{Options: "journal.Options"}
	bad := oe.Addf
	if c.Sync < SyncNever {
		bad("Sync", "%v: want SyncAlways, SyncNever or SyncInterval(d) with d > 0", c.Sync)
	}
	if c.FlushInterval < 0 {
		bad("FlushInterval", "%v is negative", c.FlushInterval)
	}
	if c.BufferSize < 0 {
		bad("BufferSize", "%d is negative", c.BufferSize)
	}
	if c.SegmentSize < 1024 {
		bad("SegmentSize", "%d, want at least 1024", c.SegmentSize)
	}
	if c.MaxRecordSize < 64 || c.MaxRecordSize > maxMaxRecordSize {
		bad("MaxRecordSize", "%d, want 64 to %d", c.MaxRecordSize, maxMaxRecordSize)
	}
	if c.RetentionBytes < 0 {
		bad("RetentionBytes", "%d is negative", c.RetentionBytes)
	}
	if c.RetentionAge < 0 {
		bad("RetentionAge", "%v is negative", c.RetentionAge)
	}
	if c.MetaSize < 0 || c.MetaSize > MaxMetaSize {
		bad("MetaSize", "%d, want 0 to %d", c.MetaSize, MaxMetaSize)
	}
	if e := c.Encryption; e != nil {
		if !keyIDPattern.MatchString(e.KeyID) {
			bad("Encryption.KeyID", "%q: want 1 to 64 letters, digits, '.', '_' or '-'", e.KeyID)
		} else if _, ok := e.Keys[e.KeyID]; !ok {
			bad("Encryption.Keys", "no key for KeyID %q", e.KeyID)
		}
		for id, k := range e.Keys {
			if !keyIDPattern.MatchString(id) {
				bad("Encryption.Keys", "key id %q: want 1 to 64 letters, digits, '.', '_' or '-'", id)
			}
			if len(k) != 32 {
				bad("Encryption.Keys["+id+"]", "%d bytes, want 32 (AES-256)", len(k))
			}
		}
	}
	return oe.Err()
}
