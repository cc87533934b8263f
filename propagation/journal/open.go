package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/vexfs/semevent/internal/logx"
)

// makeDir creates the journal directory and makes it durable: the
// directory itself and, for every directory MkdirAll creates, its parent,
// so that a power loss right after Open cannot lose the directory that
// holds acknowledged records.
func (j *Journal) makeDir() error {
	dir := filepath.Clean(j.dir)
	syncs := []string{dir, filepath.Dir(dir)}
	for d := dir; ; d = filepath.Dir(d) {
		if f, err := j.fs.OpenFile(d, os.O_RDONLY, 0); err == nil {
			f.Close()
			break
		}
		if filepath.Dir(d) == d {
			break
		}
		syncs = append(syncs, filepath.Dir(d))
	}
	if err := j.fs.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, d := range slices.Compact(syncs) {
		if err := j.fs.SyncDir(d); err != nil {
			return fmt.Errorf("journal: sync dir %s: %w", d, err)
		}
	}
	return nil
}

// load reads the directory and recovers it: leftovers are removed, the
// segments are checked against the manifest (every listed segment must
// exist, sealed ones with their listed size) and for continuity (each
// segment ends where the next begins), the last segment is scanned, its
// torn tail cut and what remains fsynced, so that readers are only ever
// served durable records. It leaves j.active set when the last segment is
// reused for appending.
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
			j.log.LogAttrs(context.Background(), slog.LevelInfo, "removed the leftover of an interrupted segment creation",
				slog.String(logx.Path, filepath.Join(j.dir, name)))
			removed = true
			continue
		}
		if b, ok := parseSegmentName(name); ok {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)
	man, err := j.readManifest()
	if err != nil {
		return err
	}
	listed := map[uint64]manifestEntry{}
	if man != nil {
		for _, e := range man.segs {
			listed[e.base] = e
		}
		// Segments before the manifest's first offset are retention's
		// leftovers: the manifest is written before files are deleted.
		for len(bases) > 0 && bases[0] < man.first {
			if _, ok := listed[bases[0]]; ok {
				break
			}
			if err := j.fs.Remove(filepath.Join(j.dir, segmentName(bases[0]))); err != nil {
				return fmt.Errorf("journal: remove retained-out segment: %w", err)
			}
			j.log.LogAttrs(context.Background(), slog.LevelInfo, "removed a segment retention had already dropped from the manifest",
				slog.String(logx.Path, filepath.Join(j.dir, segmentName(bases[0]))))
			removed = true
			bases = bases[1:]
		}
		have := map[uint64]bool{}
		for _, b := range bases {
			have[b] = true
		}
		var lastListed uint64
		for _, e := range man.segs {
			if !have[e.base] {
				return &CorruptError{Segment: segmentName(e.base), Offset: e.base,
					Reason: "segment listed in " + manifestName + " is missing (deleted?)"}
			}
			lastListed = e.base
		}
		for _, b := range bases {
			if _, ok := listed[b]; !ok && len(man.segs) > 0 && b < lastListed {
				return &CorruptError{Segment: segmentName(b), Offset: b,
					Reason: "segment not listed in " + manifestName + " lies between listed segments"}
			}
		}
	}
	if removed {
		if err := j.fs.SyncDir(j.dir); err != nil {
			return fmt.Errorf("journal: sync dir: %w", err)
		}
	}
	for i, base := range bases {
		last := i == len(bases)-1
		e, ok := listed[base]
		s, err := j.loadSegment(base, last, e, ok && e.sealed)
		if err != nil {
			return err
		}
		if n := len(j.segs); n > 0 {
			prev := j.segs[n-1]
			if end := prev.end.Load(); end != base {
				return &CorruptError{Segment: prev.name, Pos: prev.size.Load(), Offset: end,
					Reason: fmt.Sprintf("segment ends at offset %d but the next segment, %s, starts at %d", end, s.name, base)}
			}
		}
		j.segs = append(j.segs, s)
	}
	j.next = 0
	switch {
	case len(j.segs) > 0:
		j.next = j.segs[len(j.segs)-1].end.Load()
	case man != nil:
		j.next = man.first
	case len(bases) == 0:
		j.next = j.opts.FirstOffset // a new journal
	}
	j.removedBase = j.next
	if err := j.adoptLast(); err != nil {
		return err
	}
	return j.writeManifest()
}

// adoptLast decides what happens to the last segment, whose file is open
// in j.file: a plaintext segment in a plaintext journal is reused for
// appending when its records carry Options.MetaSize bytes of metadata;
// any other is sealed (a journal reopened with another MetaSize starts a
// new segment) (an encrypted segment is never appended
// to after a restart, so no record nonce can be used twice under its key,
// even for a record that was written and lost), and an encrypted one with
// no records is removed.
func (j *Journal) adoptLast() error {
	if len(j.segs) == 0 {
		return nil
	}
	s := j.segs[len(j.segs)-1]
	if s.aead == nil && j.opts.Encryption == nil && s.meta == j.opts.MetaSize {
		j.active, j.fileSize = s, s.size.Load()
		j.tail, j.tailSize, j.tailRecords = s, s.size.Load(), int(s.end.Load()-s.base)
		return nil
	}
	f := j.file
	j.file = nil
	s.sealed.Store(true)
	if err := f.Close(); err != nil {
		return fmt.Errorf("journal: close %s: %w", s.name, err)
	}
	if s.end.Load() != s.base {
		return nil
	}
	// No records: remove it so the next write makes a fresh one. The
	// manifest without it is written first: a crash in between leaves an
	// unlisted empty segment after the listed ones, which is accepted.
	j.segs = j.segs[:len(j.segs)-1]
	if err := j.writeManifest(); err != nil {
		return err
	}
	if err := j.fs.Remove(filepath.Join(j.dir, s.name)); err != nil {
		return fmt.Errorf("journal: remove empty segment: %w", err)
	}
	if err := j.fs.SyncDir(j.dir); err != nil {
		return fmt.Errorf("journal: sync dir: %w", err)
	}
	return nil
}

// loadSegment reads a segment's header, checks its encryption against
// the options, and finds its end: from the manifest when it lists the
// segment as sealed (checking the file's size), else by scanning its
// records. Only the last segment may have a torn tail, which is cut; the
// last segment is then fsynced and left open in j.file.
func (j *Journal) loadSegment(base uint64, last bool, e manifestEntry, sealed bool) (*segment, error) {
	name := segmentName(base)
	path := filepath.Join(j.dir, name)
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR | os.O_APPEND
	}
	f, err := j.fs.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	size := st.Size()
	hb := make([]byte, min(size, maxHeaderSize))
	if _, err := f.ReadAt(hb, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("journal: read %s: %w", name, err)
	}
	s, err := parseSegmentHeader(name, base, hb, j.opts.Encryption)
	if err != nil {
		return nil, err
	}
	if s.aead == nil && j.opts.Encryption != nil && !j.opts.Encryption.AllowPlaintext {
		return nil, &CorruptError{Segment: name, Offset: base,
			Reason: "plaintext segment in an encrypted journal (Encryption.AllowPlaintext is off)"}
	}
	s.modTime.Store(st.ModTime().UnixNano())
	s.size.Store(size)
	if sealed && !last {
		if size != e.size {
			return nil, &CorruptError{Segment: name, Pos: min(size, e.size), Offset: e.end,
				Reason: fmt.Sprintf("sealed segment is %d bytes, %s says %d", size, manifestName, e.size)}
		}
		s.end.Store(e.end)
		s.sealed.Store(true)
		return s, nil
	}
	sc := newScanner(f, size, scanWindow, s.meta)
	valid, end, err := sc.records(name, base, int64(len(s.hdr)), last)
	if err != nil {
		return nil, err
	}
	s.end.Store(end)
	if !last {
		s.sealed.Store(true)
		return s, nil
	}
	if valid < size {
		if err := f.Truncate(valid); err != nil {
			return nil, fmt.Errorf("journal: recover: cut torn tail of %s: %w", name, err)
		}
		j.recovery = &Recovery{Segment: name, Pos: valid, Dropped: size - valid, Next: end}
		j.log.LogAttrs(context.Background(), slog.LevelWarn, "torn tail cut off", slog.String(logx.Segment, name),
			slog.Int64(logx.Offset, valid), slog.Int64("dropped", size-valid), slog.Uint64("next", end))
		s.size.Store(valid)
	}
	// What a killed process wrote may not be durable yet: make it so
	// before serving it or appending after it.
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("journal: recover: fsync %s: %w", name, err)
	}
	keep = true
	j.file = f
	return s, nil
}

// scanWindow is how much of a segment Open holds in memory at a time.
const scanWindow = 1 << 20

// scanner reads a segment file through a bounded window.
type scanner struct {
	f    io.ReaderAt
	size int64
	meta int // the segment's meta size: a record's length must exceed it
	buf  []byte
	wpos int64 // file position of buf[0]
	// probe is a second, smaller window for checking candidate records
	// while buf is being searched.
	probe *scanner
}

// newScanner returns a scanner of f, size bytes long, with a window of
// window bytes (at least recHeader), for a segment whose records carry meta
// bytes of metadata.
func newScanner(f io.ReaderAt, size int64, window, meta int) *scanner {
	return &scanner{f: f, size: size, meta: meta, buf: make([]byte, 0, min(size, int64(window)))}
}

// at returns up to n (≤ cap of the window) bytes at pos; fewer only at the
// end of the file.
func (s *scanner) at(pos int64, n int) ([]byte, error) {
	if pos >= s.wpos && pos+int64(n) <= s.wpos+int64(len(s.buf)) {
		i := pos - s.wpos
		return s.buf[i : i+int64(n)], nil
	}
	m := min(int64(cap(s.buf)), s.size-pos)
	s.buf = s.buf[:m]
	k, err := s.f.ReadAt(s.buf, pos)
	s.buf, s.wpos = s.buf[:k], pos
	if k < int(m) && err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return s.buf[:min(n, k)], nil
}

// recordOK checks the framing and CRC of the record at pos, which should
// have offset off, streaming its body through the window; it returns the
// record's total length.
func (s *scanner) recordOK(pos int64, off uint64) (int64, bool, error) {
	if s.size-pos < recHeader {
		return 0, false, nil
	}
	b, err := s.at(pos, recHeader)
	if err != nil || len(b) < recHeader {
		return 0, false, err
	}
	var h [recHeader]byte
	copy(h[:], b)
	l := int64(binary.LittleEndian.Uint32(h[:]))
	if l <= int64(s.meta) || l > maxMaxRecordSize-recHeader || binary.LittleEndian.Uint64(h[8:]) != off || s.size-pos-recHeader < l {
		return 0, false, nil
	}
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	for p, end := pos+recHeader, pos+recHeader+l; p < end; {
		b, err := s.at(p, int(min(int64(cap(s.buf)), end-p)))
		if err != nil {
			return 0, false, err
		}
		if len(b) == 0 {
			return 0, false, nil
		}
		c = crc32.Update(c, castagnoli, b)
		p += int64(len(b))
	}
	return recHeader + l, c == binary.LittleEndian.Uint32(h[4:]), nil
}

// records checks the records of the segment from byte start and returns
// the size of its valid prefix and the offset after its last valid
// record. In the last segment a bad record followed by no valid record is
// a torn tail; anywhere else a bad record is a *CorruptError.
func (s *scanner) records(name string, base uint64, start int64, last bool) (int64, uint64, error) {
	pos, off := start, base
	for {
		n, ok, err := s.recordOK(pos, off)
		if err != nil {
			return 0, 0, fmt.Errorf("journal: read %s: %w", name, err)
		}
		if ok {
			pos += n
			off++
			continue
		}
		if pos == s.size {
			return pos, off, nil
		}
		if !last {
			return 0, 0, &CorruptError{Segment: name, Pos: pos, Offset: off, Reason: s.problem(pos, off) + " in a sealed segment"}
		}
		// Is anything valid after the bad record? Try every byte position.
		q, qo, err := s.search(pos, off)
		if err != nil {
			return 0, 0, fmt.Errorf("journal: read %s: %w", name, err)
		}
		if q >= 0 {
			return 0, 0, &CorruptError{Segment: name, Pos: pos, Offset: off,
				Reason: fmt.Sprintf("%s (valid record at offset %d follows at byte %d)", s.problem(pos, off), qo, q)}
		}
		return pos, off, nil
	}
}

// search returns the first position after pos holding a valid record whose
// offset is above off (and plausible for the bytes left), or -1.
func (s *scanner) search(pos int64, off uint64) (int64, uint64, error) {
	if s.probe == nil {
		s.probe = newScanner(s.f, s.size, max(cap(s.buf)/16, recHeader), s.meta)
	}
	limit := uint64(s.size-pos) / recHeader
	for q := pos + 1; q+recHeader <= s.size; {
		w, err := s.at(q, int(min(int64(cap(s.buf)), s.size-q)))
		if err != nil {
			return -1, 0, err
		}
		if len(w) < recHeader {
			break
		}
		last := len(w) - recHeader
		for i := 0; i <= last; i++ {
			if w[i+8] == 0 && binary.LittleEndian.Uint64(w[i+8:]) == 0 {
				// Skip a run of zero bytes: no offset field inside it is above off.
				z := i + 16
				for z+len(zeroBlock) <= len(w) && bytes.Equal(w[z:z+len(zeroBlock)], zeroBlock[:]) {
					z += len(zeroBlock)
				}
				for z+8 <= len(w) && binary.LittleEndian.Uint64(w[z:]) == 0 {
					z += 8
				}
				i = max(i, z-16) // the loop's i++ moves on to the first field touching byte z
				continue
			}
			qo := binary.LittleEndian.Uint64(w[i+8:])
			if qo <= off || qo-off > limit {
				continue
			}
			if _, ok, err := s.probe.recordOK(q+int64(i), qo); err != nil {
				return -1, 0, err
			} else if ok {
				return q + int64(i), qo, nil
			}
		}
		q += int64(last) + 1
	}
	return -1, 0, nil
}

// zeroBlock lets search skip zero-filled stretches (sparse or zeroed
// sectors) a block at a time.
var zeroBlock [4096]byte

// problem says why the record at pos is rejected.
func (s *scanner) problem(pos int64, off uint64) string {
	if s.size-pos < recHeader {
		return fmt.Sprintf("%d-byte partial record header", s.size-pos)
	}
	b, err := s.at(pos, recHeader)
	if err != nil || len(b) < recHeader {
		return "unreadable record header"
	}
	l := int64(binary.LittleEndian.Uint32(b))
	switch o := binary.LittleEndian.Uint64(b[8:]); {
	case l <= int64(s.meta) || l > maxMaxRecordSize-recHeader:
		return badLength(l, s.meta)
	case o != off:
		return fmt.Sprintf("record offset %d out of sequence", o)
	case s.size-pos-recHeader < l:
		return fmt.Sprintf("record of %d bytes cut at %d", l, s.size-pos-recHeader)
	}
	return "checksum mismatch"
}

// The manifest lists the segments, so that a deleted first, middle or last
// segment is detected at Open rather than mistaken for retention or an
// empty tail, and records the end and size of each sealed segment:
//
//	magic "SEVM" | version u8 | reserved [3] | first u64 | count u32
//	| count × (base u64 | end u64 | size i64 | flags u8, 1 = sealed)
//	| crc32c u32 of everything before
//
// It is replaced atomically (temporary file, fsync, rename, directory
// fsync) at Open, after a segment is created and before retention deletes
// segments.
const (
	manifestName      = "MANIFEST"
	manifestMagic     = "SEVM"
	manifestVersion   = 1
	manifestEntrySize = 25
)

type manifestEntry struct {
	base, end uint64
	size      int64
	sealed    bool
}

type manifest struct {
	first uint64
	segs  []manifestEntry
}

func (j *Journal) readManifest() (*manifest, error) {
	f, err := j.fs.OpenFile(filepath.Join(j.dir, manifestName), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	bad := func(reason string) error { return &CorruptError{Segment: manifestName, Reason: reason} }
	if st.Size() < 24 || st.Size() > 24+manifestEntrySize*(1<<24) {
		return nil, bad(fmt.Sprintf("%d bytes", st.Size()))
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("journal: read %s: %w", manifestName, err)
	}
	return decodeManifest(b, bad)
}

func decodeManifest(b []byte, bad func(string) error) (*manifest, error) {
	if len(b) < 24 {
		return nil, bad(fmt.Sprintf("%d bytes, too short", len(b)))
	}
	if string(b[:4]) != manifestMagic || b[4] != manifestVersion {
		return nil, bad("bad magic or version")
	}
	body := b[:len(b)-4]
	if got, want := binary.LittleEndian.Uint32(b[len(b)-4:]), crc32.Checksum(body, castagnoli); got != want {
		return nil, bad(fmt.Sprintf("checksum %#08x, want %#08x", got, want))
	}
	m := &manifest{first: binary.LittleEndian.Uint64(b[8:])}
	n := binary.LittleEndian.Uint32(b[16:])
	if uint64(len(body)-20) != uint64(n)*manifestEntrySize {
		return nil, bad(fmt.Sprintf("%d entries in %d bytes", n, len(body)-20))
	}
	for p := 20; p < len(body); p += manifestEntrySize {
		e := manifestEntry{
			base:   binary.LittleEndian.Uint64(body[p:]),
			end:    binary.LittleEndian.Uint64(body[p+8:]),
			size:   int64(binary.LittleEndian.Uint64(body[p+16:])),
			sealed: body[p+24]&1 != 0,
		}
		if body[p+24]&^1 != 0 {
			return nil, bad(fmt.Sprintf("entry %d: unknown flags %#x", len(m.segs), body[p+24]))
		}
		if k := len(m.segs); (k > 0 && e.base <= m.segs[k-1].base) || (e.sealed && e.end < e.base) || e.size < 0 || e.base < m.first && k == 0 {
			return nil, bad(fmt.Sprintf("entry %d out of order", k))
		}
		m.segs = append(m.segs, e)
	}
	return m, nil
}

func encodeManifest(m *manifest) []byte {
	b := make([]byte, 0, 24+manifestEntrySize*len(m.segs))
	b = append(b, manifestMagic...)
	b = append(b, manifestVersion, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, m.first)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.segs)))
	for _, e := range m.segs {
		b = binary.LittleEndian.AppendUint64(b, e.base)
		b = binary.LittleEndian.AppendUint64(b, e.end)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.size))
		var fl byte
		if e.sealed {
			fl = 1
		}
		b = append(b, fl)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// writeManifest replaces the manifest with the current segment list.
func (j *Journal) writeManifest() error {
	j.manifestMu.Lock()
	defer j.manifestMu.Unlock()
	j.mu.Lock()
	m := &manifest{first: j.firstLocked()}
	for _, s := range j.segs {
		e := manifestEntry{base: s.base}
		if s.sealed.Load() {
			e.end, e.size, e.sealed = s.end.Load(), s.size.Load(), true
		}
		m.segs = append(m.segs, e)
	}
	j.mu.Unlock()
	return j.writeFileDurably(manifestName, encodeManifest(m))
}

// writeFileDurably replaces the named file in the journal directory with
// data: temporary file, fsync, rename, directory fsync.
func (j *Journal) writeFileDurably(name string, data []byte) error {
	path := filepath.Join(j.dir, name)
	tmp := path + tmpSuffix
	f, err := j.fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = j.fs.Rename(tmp, path)
	}
	if err == nil {
		err = j.fs.SyncDir(filepath.Dir(path))
	}
	if err != nil {
		return fmt.Errorf("journal: write %s: %w", name, err)
	}
	return nil
}

// badLength says why a record length l is refused in a segment whose
// records carry meta bytes of metadata.
func badLength(l int64, meta int) string {
	if l > 0 && l <= int64(meta) {
		return fmt.Sprintf("bad record length %d (no event after %d bytes of meta)", l, meta)
	}
	return fmt.Sprintf("bad record length %d", l)
}
