package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/vexfs/semevent"
)

// Durable consumers keep their committed offset in consumers/NAME: the
// offset (u64) and its crc32c (u32), replaced atomically by rename.
const consumersDir = "consumers"

var consumerName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ConsumeEvery is how many records [Journal.Consume] delivers between
// commits while it is catching up.
const ConsumeEvery = 4096

func (j *Journal) consumerPath(name string) (string, error) {
	if !consumerName.MatchString(name) || name == "." || name == ".." {
		return "", fmt.Errorf("journal: consumer name %q: want 1 to 128 letters, digits, '.', '_' or '-'", name)
	}
	return filepath.Join(j.dir, consumersDir, name), nil
}

// CommittedOffset returns the offset the named durable consumer resumes
// from: one past the last record it committed. ok is false when it has
// never committed. Called while a commit is in flight it may return the
// new offset before that commit is durable; a power loss then brings back
// the previous one (never an offset past the journal's end).
func (j *Journal) CommittedOffset(name string) (next uint64, ok bool, err error) {
	path, err := j.consumerPath(name)
	if err != nil {
		return 0, false, err
	}
	f, err := j.fs.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("journal: consumer %s: %w", name, err)
	}
	defer f.Close()
	var b [12]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return 0, false, &CorruptError{Segment: filepath.Join(consumersDir, name), Reason: "committed offset: " + err.Error()}
	}
	if crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		return 0, false, &CorruptError{Segment: filepath.Join(consumersDir, name), Reason: "committed offset: bad checksum"}
	}
	return binary.LittleEndian.Uint64(b[:8]), true, nil
}

// CommitOffset durably records that the named consumer has handled every
// record below next (write to a temporary file, fsync, rename, fsync the
// directory). next must not exceed NextOffset. A consumer offset never
// runs ahead of the durable records: when next is past what has been
// fsynced (under SyncInterval or SyncNever), CommitOffset first fsyncs the
// journal as [Journal.Sync] does, so that a power loss cannot leave the
// offset pointing past the journal's end.
func (j *Journal) CommitOffset(name string, next uint64) error {
	path, err := j.consumerPath(name)
	if err != nil {
		return err
	}
	j.mu.Lock()
	limit, closed := j.next, j.closed
	j.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if next > limit {
		return &OffsetError{Offset: next, First: j.FirstOffset(), Next: limit}
	}
	if next > j.synced.Load() {
		if err := j.Sync(context.Background()); err != nil {
			return err
		}
	}
	return j.writeOffset(name, path, next)
}

// writeOffset writes a consumer's offset file durably. The first time, it
// also creates consumers/ and fsyncs the journal directory's entry for it.
func (j *Journal) writeOffset(name, path string, next uint64) error {
	if !j.consDirOK.Load() {
		if err := j.fs.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("journal: consumer %s: %w", name, err)
		}
		if err := j.fs.SyncDir(j.dir); err != nil {
			return fmt.Errorf("journal: consumer %s: sync dir: %w", name, err)
		}
		j.consDirOK.Store(true)
	}
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], next)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if err := j.writeFileDurably(filepath.Join(consumersDir, name), b[:]); err != nil {
		return fmt.Errorf("journal: commit consumer %s: %w", name, err)
	}
	return nil
}

// Consume delivers records to fn for the named durable consumer, at least
// once: it starts after the consumer's last commit (or at FirstOffset when
// it has none), follows live appends like [Journal.Tail], and commits its
// progress every [ConsumeEvery] records, whenever it has caught up, and
// when it returns. A record whose fn call returned an error is not
// committed, so it is delivered again by the next Consume. Records
// delivered since the last commit are delivered again after a crash. If
// retention deleted records the consumer had not committed, Consume
// returns an *[OffsetError] and the consumer must decide where to resume
// ([Journal.CommitOffset] with [Journal.FirstOffset]).
//
// Consume commits only up to the durable end of the journal: under
// SyncInterval or SyncNever a record delivered before it is fsynced is
// committed by a later commit, once an fsync covers it, so a power loss
// never leaves the offset past the records that survived it (such
// records are delivered again instead).
func (j *Journal) Consume(ctx context.Context, name string, fn func(off uint64, ev *semevent.Event) error) error {
	from, ok, err := j.CommittedOffset(name)
	if err != nil {
		return err
	}
	if !ok {
		from = j.FirstOffset()
	}
	path, err := j.consumerPath(name)
	if err != nil {
		return err
	}
	r, err := j.NewReader(from)
	if err != nil {
		return err
	}
	defer r.Close()
	done, committed := from, from
	commit := func() error {
		upto := min(done, j.synced.Load())
		if upto <= committed {
			return nil
		}
		if err := j.writeOffset(name, path, upto); err != nil {
			return err
		}
		committed = upto
		return nil
	}
	err = j.follow(ctx, r, func(off uint64, _ []byte, ev *semevent.Event) error {
		if err := fn(off, ev); err != nil {
			return err
		}
		done = off + 1
		if done-committed >= ConsumeEvery {
			return commit()
		}
		return nil
	}, commit)
	if cerr := commit(); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}
