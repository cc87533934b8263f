package journal

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

const readBufSize = 256 << 10

// Reader reads records in offset order, from the offset given to
// [Journal.NewReader] up to the last readable record, and then on as more
// become readable. Records become readable once committed: fsynced under
// SyncAlways, written to the operating system under the other policies.
//
// A Reader is not safe for concurrent use; use one per goroutine.
type Reader struct {
	j      *Journal
	from   uint64 // records below are skipped
	off    uint64 // offset of the record at pos
	seg    *segment
	f      File
	pos    int64
	buf    []byte
	bufPos int64
	plain  []byte
	nonce  [12]byte // the record's nonce (a local would escape through cipher.AEAD)
	meta   []byte   // the last record's metadata, in buf; nil when its segment has none
	err    error    // sticky: corruption or a read error
}

// NewReader returns a Reader positioned at offset from, which must lie in
// [FirstOffset, NextOffset]; otherwise the error is an *[OffsetError].
func (j *Journal) NewReader(from uint64) (*Reader, error) {
	j.mu.Lock()
	first, next, closed := j.firstLocked(), j.next, j.closed
	j.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	if from < first || from > next {
		return nil, &OffsetError{Offset: from, First: first, Next: next}
	}
	return &Reader{j: j, from: from, off: from}, nil
}

// Offset returns the offset of the record the next call to Next returns.
func (r *Reader) Offset() uint64 { return max(r.off, r.from) }

// Meta returns the metadata of the record the last successful Next
// returned (see [Options.MetaSize]): as many bytes as its segment's records
// carry, zeros if it was appended without meta, and nil for a record of a
// segment without metadata (or before any record). The slice is valid
// until the next call to Next; copy it to keep it.
func (r *Reader) Meta() []byte { return r.meta }

// Next decodes the next record into ev (reusing ev's slices) and returns its
// offset. At the end of the readable records it returns io.EOF; calling it
// again later returns records committed since. A bad record yields a
// *[CorruptError] naming its segment, byte position and offset, and the
// Reader returns that error from then on: a corrupt record is never served
// and never skipped.
func (r *Reader) Next(ev *semevent.Event) (uint64, error) {
	r.meta = nil
	if r.err != nil {
		return 0, r.err
	}
	off, err := r.next(ev)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return off, err
}

func (r *Reader) next(ev *semevent.Event) (uint64, error) {
	const maxRec = maxMaxRecordSize // committed records stay readable whatever MaxRecordSize is now
	for {
		if r.seg == nil {
			if err := r.openSegment(); err != nil {
				return 0, err
			}
		}
		s := r.seg
		sealed := s.sealed.Load() // before size: once sealed, size is final
		limit := s.size.Load()
		if r.pos >= limit {
			if !sealed {
				return 0, io.EOF
			}
			if end := s.end.Load(); r.off != end {
				return 0, r.corrupt(fmt.Sprintf("segment ends at offset %d, want %d", r.off, end))
			}
			r.closeSegment()
			continue
		}
		h, err := r.read(r.pos, recHeader, limit)
		if err != nil {
			return 0, err
		}
		l := int(binary.LittleEndian.Uint32(h))
		o := binary.LittleEndian.Uint64(h[8:])
		switch {
		case l <= s.meta || l > maxRec-recHeader:
			return 0, r.corrupt(badLength(int64(l), s.meta))
		case o != r.off:
			return 0, r.corrupt(fmt.Sprintf("record offset %d out of sequence", o))
		case int64(recHeader+l) > limit-r.pos:
			return 0, r.corrupt(fmt.Sprintf("record of %d bytes cut at %d", l, limit-r.pos-recHeader))
		}
		rec, err := r.read(r.pos, recHeader+l, limit)
		if err != nil {
			return 0, err
		}
		body := rec[recHeader:]
		if got, want := binary.LittleEndian.Uint32(rec[4:]), recordCRC(rec, body); got != want {
			return 0, r.corrupt(fmt.Sprintf("checksum %#08x, want %#08x", got, want))
		}
		var meta []byte
		if s.meta > 0 {
			meta, body = body[:s.meta:s.meta], body[s.meta:]
		}
		s.noteIndex(o, r.pos)
		if o < r.from {
			r.pos += int64(recHeader + l)
			r.off++
			continue
		}
		if s.aead != nil {
			r.plain, err = s.aead.Open(r.plain[:0], recordNonce(&r.nonce, o), body, meta)
			if err != nil {
				return 0, r.corrupt("decryption failed: record authentication")
			}
			body = r.plain
		}
		if err := codec.Decode(body, ev); err != nil {
			return 0, r.corrupt(err.Error())
		}
		r.pos += int64(recHeader + l)
		r.off++
		r.meta = meta
		return o, nil
	}
}

func (r *Reader) corrupt(reason string) error {
	return &CorruptError{Segment: r.seg.name, Pos: r.pos, Offset: r.off, Reason: reason}
}

// openSegment opens the segment holding the next offset, if it exists yet.
func (r *Reader) openSegment() error {
	want := max(r.off, r.from)
	s := r.j.segmentFrom(want)
	if s == nil || (s.sealed.Load() && s.end.Load() <= want) {
		// want is past every created segment: its segment is not created yet.
		if first := r.j.FirstOffset(); want < first {
			return &OffsetError{Offset: want, First: first, Next: r.j.NextOffset()}
		}
		return io.EOF
	}
	f, err := r.j.fs.OpenFile(filepath.Join(r.j.dir, s.name), os.O_RDONLY, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			first := r.j.FirstOffset()
			return &OffsetError{Offset: want, First: first, Next: r.j.NextOffset()}
		}
		return fmt.Errorf("journal: %w", err)
	}
	r.seg, r.f = s, f
	r.off, r.pos = s.seek(want)
	r.buf, r.bufPos = r.buf[:0], 0
	return nil
}

func (r *Reader) closeSegment() {
	if r.f != nil {
		r.f.Close()
	}
	r.seg, r.f = nil, nil
}

// read returns n bytes at file position pos, which with n lies below limit.
func (r *Reader) read(pos int64, n int, limit int64) ([]byte, error) {
	if pos >= r.bufPos && pos+int64(n) <= r.bufPos+int64(len(r.buf)) {
		i := pos - r.bufPos
		return r.buf[i : i+int64(n)], nil
	}
	want := int64(max(n, readBufSize))
	want = min(want, limit-pos)
	if cap(r.buf) < int(want) {
		r.buf = make([]byte, max(want, readBufSize))
	}
	r.buf = r.buf[:want]
	m, err := r.f.ReadAt(r.buf, pos)
	r.buf, r.bufPos = r.buf[:m], pos
	if m < n {
		if err == nil || err == io.EOF {
			return nil, r.corrupt(fmt.Sprintf("file ends %d bytes into a %d-byte read", m, n))
		}
		return nil, fmt.Errorf("journal: read %s at byte %d: %w", r.seg.name, pos, err)
	}
	return r.buf[:n], nil
}

// Close releases the Reader's open file.
func (r *Reader) Close() error {
	r.closeSegment()
	if r.err == nil {
		r.err = ErrClosed
	}
	return nil
}

// Tail calls fn for every record from offset from on, in order: first the
// records already in the journal, then each one as it becomes readable.
// fn gets a fresh event it may keep. Tail returns fn's error, ctx.Err()
// when ctx ends, a *[CorruptError] for a bad record, the journal's
// *[WriteError] once it has stopped, or an error wrapping [ErrClosed] once
// the journal is closed and every record has been delivered.
func (j *Journal) Tail(ctx context.Context, from uint64, fn func(off uint64, ev *semevent.Event) error) error {
	return j.TailMeta(ctx, from, func(off uint64, _ []byte, ev *semevent.Event) error { return fn(off, ev) })
}

// TailMeta is [Journal.Tail] with each record's metadata (see
// [Reader.Meta]): meta is valid only during the call to fn.
func (j *Journal) TailMeta(ctx context.Context, from uint64, fn func(off uint64, meta []byte, ev *semevent.Event) error) error {
	r, err := j.NewReader(from)
	if err != nil {
		return err
	}
	defer r.Close()
	return j.follow(ctx, r, fn, nil)
}

// follow delivers records from r to fn until an error; idle, if set, is
// called each time r has caught up, before waiting.
func (j *Journal) follow(ctx context.Context, r *Reader, fn func(uint64, []byte, *semevent.Event) error, idle func() error) error {
	for n := 0; ; n++ {
		if n%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		changed := j.changed()
		closed := j.finished.Load()
		j.mu.Lock()
		werr := j.err
		j.mu.Unlock()
		ev := new(semevent.Event)
		off, err := r.Next(ev)
		if err == nil {
			if err := fn(off, r.Meta(), ev); err != nil {
				return err
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		if idle != nil {
			if err := idle(); err != nil {
				return err
			}
		}
		switch {
		case werr != nil:
			return werr
		case closed:
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
