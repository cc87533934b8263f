package journal_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/propagation/journal"
)

// record is one record's place in a segment file.
type record struct {
	file       string // segment path
	start, end int    // byte range, framing included
	off        uint64
}

// headerLen returns the size of a segment header (see segment.go).
func headerLen(b []byte) int {
	n := 25 + int(b[24]) + 4
	if b[5]&1 != 0 {
		n += 48
	}
	return n
}

// records lists the records of every segment in dir by walking the framing.
func records(t testing.TB, dir string) []record {
	t.Helper()
	var rs []record
	for _, p := range segments(t, dir) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for pos := headerLen(b); pos < len(b); {
			l := int(binary.LittleEndian.Uint32(b[pos:]))
			rs = append(rs, record{p, pos, pos + 16 + l, binary.LittleEndian.Uint64(b[pos+8:])})
			pos += 16 + l
		}
	}
	return rs
}

// fixCRC recomputes the CRC of record r in b, its segment file's bytes, as
// an attacker who changed the record would.
func fixCRC(b []byte, r record) {
	tab := crc32.MakeTable(crc32.Castagnoli)
	c := crc32.Update(0, tab, b[r.start:r.start+4])
	c = crc32.Update(c, tab, b[r.start+8:r.start+16])
	c = crc32.Update(c, tab, b[r.start+16:r.end])
	binary.LittleEndian.PutUint32(b[r.start+4:], c)
}

// inCopy returns the copy of path p of dir in the directory cp.
func inCopy(cp, p string) string { return filepath.Join(cp, filepath.Base(p)) }

// fill appends genEvent(s, 0..n-1): with appendN when meta is 0, else with
// appendMetaN, whose expected metadata it returns (nil entries for none).
func fill(t testing.TB, j *journal.Journal, s uint64, n, meta int) [][]byte {
	t.Helper()
	if meta == 0 {
		appendN(t, j, s, n)
		return make([][]byte, n)
	}
	return appendMetaN(t, j, s, n, meta)
}

// metaOpts returns options with MetaSize meta and the given segment size.
func metaOpts(meta int, segSize int64) *journal.Options {
	return &journal.Options{MetaSize: meta, SegmentSize: segSize}
}

func TestTornTailEveryByte(t *testing.T) {
	for _, meta := range []int{0, 24} {
		t.Run(fmt.Sprintf("meta=%d", meta), func(t *testing.T) { tornTailEveryByte(t, meta) })
	}
}

func tornTailEveryByte(t *testing.T, meta int) {
	dir := t.TempDir()
	opts := metaOpts(meta, 0)
	j := open(t, dir, opts)
	const n = 30
	metas := fill(t, j, 1, n, meta)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	require.Len(t, rs, n)
	last := rs[n-1]
	positions := 0
	for cut := last.start; cut < last.end; cut++ {
		cp := copyDir(t, dir)
		require.NoError(t, os.Truncate(inCopy(cp, last.file), int64(cut)))
		j, err := journal.Open(cp, opts)
		require.NoError(t, err, "cut at byte %d", cut)
		rec := j.Recovery()
		if cut == last.start {
			require.Nil(t, rec, "cut at a record boundary: nothing torn")
		} else {
			require.NotNil(t, rec, "cut at byte %d", cut)
			require.Equal(t, int64(last.start), rec.Pos)
			require.Equal(t, int64(cut-last.start), rec.Dropped)
			require.Equal(t, filepath.Base(last.file), rec.Segment)
		}
		require.Equal(t, uint64(n-1), j.NextOffset())
		offs, evs, got, err := readAllMeta(t, j, 0)
		require.NoError(t, err)
		require.Equal(t, n-1, len(evs))
		checkEvents(t, 1, 0, 0, offs, evs)
		checkMetas(t, metas[:n-1], got)
		if cut%7 == 0 { // the journal goes on after recovery
			more := fill(t, j, 2, 2, meta)
			require.NoError(t, j.Close(context.Background()))
			j = open(t, cp, opts)
			offs, evs, got, err = readAllMeta(t, j, n-1)
			require.NoError(t, err)
			checkEvents(t, 2, 0, n-1, offs, evs)
			checkMetas(t, more, got)
		}
		require.NoError(t, j.Close(context.Background()))
		positions++
	}
	t.Logf("torn tail, meta %d: %d cut positions of a %d-byte last record", meta, positions, last.end-last.start)
}

func TestTornTailZeroSectors(t *testing.T) {
	for _, meta := range []int{0, 24} {
		t.Run(fmt.Sprintf("meta=%d", meta), func(t *testing.T) { tornTailZeroSectors(t, meta) })
	}
}

func tornTailZeroSectors(t *testing.T, meta int) {
	dir := t.TempDir()
	opts := metaOpts(meta, 0)
	j := open(t, dir, opts)
	const n = 40
	metas := fill(t, j, 1, n, meta)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	seg := rs[0].file
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	size := len(b)
	padded := (size + 511) &^ 511
	cases := 0
	for s := (rs[0].start + 511) &^ 511; s < size; s += 512 {
		// Every sector from s on reads as zeros, as after a crash that
		// lost the tail's data blocks; the file may also have grown to the
		// sector boundary.
		for _, grow := range []bool{false, true} {
			cp := copyDir(t, dir)
			z := append([]byte(nil), b...)
			if grow {
				z = append(z, make([]byte, padded-size)...)
			}
			clear(z[s:])
			require.NoError(t, os.WriteFile(inCopy(cp, seg), z, 0o644))
			want := 0 // records wholly before s survive
			for _, r := range rs {
				if r.end <= s {
					want++
				}
			}
			j, err := journal.Open(cp, opts)
			require.NoError(t, err, "zeros from byte %d", s)
			require.NotNil(t, j.Recovery(), "zeros from byte %d", s)
			offs, evs, got, err := readAllMeta(t, j, 0)
			require.NoError(t, err)
			require.Equal(t, want, len(evs), "zeros from byte %d", s)
			checkEvents(t, 1, 0, 0, offs, evs)
			checkMetas(t, metas[:want], got)
			require.NoError(t, j.Close(context.Background()))
			cases++
		}
	}
	t.Logf("zero-filled tail sectors: %d cases over a %d-byte segment", cases, size)
}

// TestTornTailZeroSectorInside zeroes one whole sector inside a large last
// record, as when the sectors of a write reach the disk out of order.
func TestTornTailZeroSectorInside(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	const n = 10
	appendN(t, j, 1, n)
	big := genEvent(9, 9)
	big.Data = make([]byte, 8192)
	for i := range big.Data {
		big.Data[i] = byte(i%251) + 1
	}
	_, err := j.Append(context.Background(), big)
	require.NoError(t, err)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	last := rs[n]
	b, err := os.ReadFile(last.file)
	require.NoError(t, err)
	cases := 0
	for s := (last.start + 511) &^ 511; s+512 <= last.end; s += 512 {
		cp := copyDir(t, dir)
		z := append([]byte(nil), b...)
		for i := s; i < s+512; i++ {
			z[i] = 0
		}
		require.NoError(t, os.WriteFile(inCopy(cp, last.file), z, 0o644))
		j, err := journal.Open(cp, nil)
		require.NoError(t, err, "zero sector at byte %d", s)
		require.NotNil(t, j.Recovery())
		offs, evs, err := readAll(t, j, 0)
		require.NoError(t, err)
		require.Equal(t, n, len(evs))
		checkEvents(t, 1, 0, 0, offs, evs)
		require.NoError(t, j.Close(context.Background()))
		cases++
	}
	require.Greater(t, cases, 10)
}

func TestBitFlipDetected(t *testing.T) {
	for _, meta := range []int{0, 24} {
		t.Run(fmt.Sprintf("meta=%d", meta), func(t *testing.T) { bitFlipDetected(t, meta) })
	}
}

func bitFlipDetected(t *testing.T, meta int) {
	dir := t.TempDir()
	opts := metaOpts(meta, 8192)
	j := open(t, dir, opts)
	const n = 150
	metas := fill(t, j, 1, n, meta)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	require.Len(t, rs, n)
	require.Greater(t, len(segments(t, dir)), 2)
	r := rand.New(rand.NewPCG(3, 3))
	atOpen, atRead := 0, 0
	for trial := range 150 {
		victim := rs[r.IntN(n-1)] // never the tail record
		bit := victim.start*8 + r.IntN((victim.end-victim.start)*8)
		switch {
		case trial%10 == 0: // the framing: length, CRC and offset fields
			bit = victim.start*8 + r.IntN(16*8)
		case trial%10 == 5 && meta > 0: // the metadata
			bit = (victim.start+16)*8 + r.IntN(meta*8)
		}
		cp := copyDir(t, dir)
		if trial%2 == 0 {
			// With the manifest, sealed segments are not scanned at Open:
			// the Reader finds the flip.
			m, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(cp, "MANIFEST"), m, 0o644))
		}
		p := inCopy(cp, victim.file)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		b[bit/8] ^= 1 << (bit % 8)
		require.NoError(t, os.WriteFile(p, b, 0o644))
		name := filepath.Base(victim.file)

		j, err := journal.Open(cp, opts)
		if err != nil {
			ce := requireCorrupt(t, err)
			require.Equal(t, name, ce.Segment, "trial %d: %v", trial, err)
			require.Equal(t, victim.off, ce.Offset, "trial %d: %v", trial, err)
			require.Equal(t, int64(victim.start), ce.Pos, "trial %d: %v", trial, err)
			atOpen++
			continue
		}
		offs, evs, got, err := readAllMeta(t, j, 0)
		ce := requireCorrupt(t, err)
		require.Equal(t, name, ce.Segment, "trial %d: %v", trial, err)
		require.Equal(t, victim.off, ce.Offset, "trial %d: %v", trial, err)
		require.Equal(t, int(victim.off), len(evs), "trial %d: records before the flip are served, none after", trial)
		checkEvents(t, 1, 0, 0, offs, evs)
		checkMetas(t, metas[:victim.off], got)
		// Reading from past the bad record still works.
		if victim.off+1 < n {
			offs, evs, err := readAll(t, j, victim.off+1)
			if err == nil {
				checkEvents(t, 1, victim.off+1, 0, offs, evs)
			} else {
				requireCorrupt(t, err) // the flip made the framing unreadable
			}
		}
		require.NoError(t, j.Close(context.Background()))
		atRead++
	}
	t.Logf("bit flips, meta %d: %d detected at Open (the last segment, or any when the manifest is not copied), %d at read (sealed segments)", meta, atOpen, atRead)
}

func TestHeaderCorruption(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{SegmentSize: 4096})
	appendN(t, j, 1, 60)
	require.NoError(t, j.Close(context.Background()))
	for _, seg := range segments(t, dir) {
		for _, at := range []int{0, 4, 9, 20, 26} {
			cp := copyDir(t, dir)
			p := inCopy(cp, seg)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[at] ^= 0x10
			require.NoError(t, os.WriteFile(p, b, 0o644))
			_, err = journal.Open(cp, nil)
			ce := requireCorrupt(t, err)
			require.Equal(t, filepath.Base(seg), ce.Segment)
			require.Contains(t, ce.Error(), "segment header")
		}
	}
}

func TestLeftoverTempSegmentRemoved(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, nil)
	appendN(t, j, 1, 5)
	require.NoError(t, j.Close(context.Background()))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000005.seg.tmp"), []byte("SEVJ"), 0o644))
	j = open(t, dir, nil)
	defer j.Close(context.Background())
	_, err := os.Stat(filepath.Join(dir, "00000000000000000005.seg.tmp"))
	require.True(t, errors.Is(err, os.ErrNotExist))
	appendN(t, j, 2, 1)
	offs, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Equal(t, 6, len(evs))
	checkEvents(t, 1, 0, 0, offs[:5], evs[:5])
}

func TestMissingSegmentDetected(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, &journal.Options{SegmentSize: 4096})
	appendN(t, j, 1, 80)
	require.NoError(t, j.Close(context.Background()))
	segs := segments(t, dir)
	require.Greater(t, len(segs), 3)
	require.NoError(t, os.Remove(segs[1]))
	_, err := journal.Open(dir, nil)
	ce := requireCorrupt(t, err)
	require.Equal(t, filepath.Base(segs[1]), ce.Segment)
	require.Contains(t, ce.Error(), "missing")
	// Without the manifest, the continuity check still finds the gap.
	require.NoError(t, os.Remove(filepath.Join(dir, "MANIFEST")))
	_, err = journal.Open(dir, nil)
	ce = requireCorrupt(t, err)
	require.Equal(t, filepath.Base(segs[0]), ce.Segment)
}
