package raft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/coordlog"
	"github.com/vexfs/semevent/internal/varint"
)

// The encodings this package writes: a proposal (a batch of events
// appended to one shard), the result of applying one, and a snapshot (a
// shard's retained journal). Events travel as internal/codec records, the
// journal's encoding, so that every field of an event, context included,
// survives replication.
//
// Proposal, version 2 (version 1, without origin and id, is still read):
//
//	version   1 byte (2)
//	origin    uvarint, the proposing node
//	id        uvarint, the proposal's id on that node (the same on retries)
//	count     uvarint, at least 1
//	records   count × (uvarint length, codec record)
//
// Result of an applied proposal (dragonboat's sm.Result): Value is the
// index of the first event the proposal appended (the next index when it
// appended none); the events it appended have consecutive indexes from
// Value in proposal order. Data is empty when every event was appended,
// else 'D' | uvarint n | n × (uvarint position in the proposal, uvarint
// index, kind byte) for the events whose ID was committed before (at that
// index): kind 1 by another append, kind 0 by an earlier attempt of this
// same proposal (a retry after a timeout), which counts as this Append's.
// A malformed proposal, applied as nothing, has Value 0 and Data 'E' then
// the error text.
//
// Snapshot, version 2:
//
//	magic     4 bytes "SEsj"
//	version   1 byte (2)
//	deployment u64, shard u32    whose snapshot it is
//	applied   u64                the last Raft index applied
//	first, end u64               the journal offsets of the records held
//	window    u32 count, count × (ID 16 bytes, index u64, proposal id u64)
//	records   (end-first) × (meta 24 bytes, uvarint length, codec record)
//	crc32c    u32 of everything before
//
// Integers are little-endian.
const (
	proposalVersion   = 2
	proposalVersionV1 = 1
	snapshotVersion   = 2
	snapshotMagic     = "SEsj"
	maxSnapRecord     = 64 << 20
	resDup            = 'D'
	resErr            = 'E'
)

// ErrMalformed is wrapped by every *EncodingError.
var ErrMalformed = errors.New("coord/raft: malformed encoding")

// EncodingError reports a proposal, result or snapshot that could not be
// decoded: which, the byte offset, and what was wrong there.
type EncodingError struct {
	What string // "proposal", "result" or "snapshot"
	Pos  int64
	Msg  string
}

func (e *EncodingError) Error() string {
	return fmt.Sprintf("coord/raft: malformed %s at byte %d: %s", e.What, e.Pos, e.Msg)
}

// Unwrap returns [ErrMalformed].
func (e *EncodingError) Unwrap() error { return ErrMalformed }

// appendRecord appends one length-prefixed event record: the body of a
// proposal.
func appendRecord(dst, rec []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	return append(dst, rec...)
}

// proposalHeader returns the header of proposal id of n records from node
// origin.
func proposalHeader(dst []byte, origin, id uint64, n int) []byte {
	dst = append(dst, proposalVersion)
	dst = binary.AppendUvarint(dst, origin)
	dst = binary.AppendUvarint(dst, id)
	return binary.AppendUvarint(dst, uint64(n))
}

// proposal is a decoded proposal; recs alias its bytes.
type proposal struct {
	origin, id uint64
	recs       [][]byte
}

// checkRecord reports whether rec decodes as an event.
func checkRecord(rec []byte) error {
	var ev semevent.Event
	return codec.Decode(rec, &ev)
}

// decodeProposal splits a proposal into its header and records, which
// alias b. It checks the framing and, when full is set, that every record
// decodes as an event (the state machine decodes them itself).
func decodeProposal(b []byte, full bool) (proposal, error) {
	fail := func(pos int, format string, args ...any) error {
		return &EncodingError{What: "proposal", Pos: int64(pos), Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) == 0 {
		return proposal{}, fail(0, "empty")
	}
	if b[0] != proposalVersion && b[0] != proposalVersionV1 {
		return proposal{}, fail(0, "unknown version %d", b[0])
	}
	pos := 1
	var p proposal
	if b[0] == proposalVersion {
		for _, f := range []*uint64{&p.origin, &p.id} {
			v, k := varint.Uvarint(b[pos:])
			if k <= 0 {
				return proposal{}, fail(pos, "bad header")
			}
			*f = v
			pos += k
		}
	}
	n, k := varint.Uvarint(b[pos:])
	if k <= 0 {
		return proposal{}, fail(pos, "bad record count")
	}
	if n == 0 || n > uint64(len(b)-pos-k) {
		return proposal{}, fail(pos, "record count %d does not fit in %d bytes", n, len(b)-pos-k)
	}
	pos += k
	p.recs = make([][]byte, 0, n)
	for range n {
		l, k := varint.Uvarint(b[pos:])
		if k <= 0 {
			return proposal{}, fail(pos, "bad record length")
		}
		if l > uint64(len(b)-pos-k) {
			return proposal{}, fail(pos, "record length %d exceeds the %d bytes left", l, len(b)-pos-k)
		}
		pos += k
		rec := b[pos : pos+int(l)]
		if full {
			if err := checkRecord(rec); err != nil {
				return proposal{}, fail(pos, "record %d: %v", len(p.recs), err)
			}
		}
		p.recs = append(p.recs, rec)
		pos += int(l)
	}
	if pos != len(b) {
		return proposal{}, fail(pos, "%d trailing bytes", len(b)-pos)
	}
	return p, nil
}

// errResult is the result of a malformed proposal.
func errResult(err error) sm.Result {
	return sm.Result{Data: append([]byte{resErr}, err.Error()...)}
}

// appendDup records that the event at position k was committed before at
// index: by another append when already is set, else by an earlier
// attempt of the same proposal.
func appendDup(b []byte, k int, index uint64, already bool) []byte {
	b = binary.AppendUvarint(b, uint64(k))
	b = binary.AppendUvarint(b, index)
	if already {
		return append(b, 1)
	}
	return append(b, 0)
}

// dupResult is a result's Data for n already-committed events listed in
// dups (nil when none).
func dupResult(dups []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, 0, 1+binary.MaxVarintLen64+len(dups))
	b = append(b, resDup)
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, dups...)
}

// slot is where one event of a proposal ended up.
type slot struct {
	index   uint64
	already bool
}

// decodeResult maps the result of a proposal of n events to each event's
// index; a rejected (malformed) proposal is an error.
func decodeResult(res sm.Result, n int) ([]slot, error) {
	if res.Value == 0 {
		msg := string(res.Data)
		if len(res.Data) > 0 && res.Data[0] == resErr {
			msg = msg[1:]
		}
		return nil, fmt.Errorf("coord/raft: the shard rejected a proposal: %s", msg)
	}
	out := make([]slot, n)
	listed := make([]bool, n)
	d := res.Data
	fail := func(pos int, msg string) error {
		return &EncodingError{What: "result", Pos: int64(pos), Msg: msg}
	}
	if len(d) > 0 {
		if d[0] != resDup {
			return nil, fail(0, "unknown tag")
		}
		pos := 1
		cnt, k := varint.Uvarint(d[pos:])
		if k <= 0 || cnt > uint64(n) {
			return nil, fail(pos, "bad count")
		}
		pos += k
		prev := -1
		for range cnt {
			p, k := varint.Uvarint(d[pos:])
			if k <= 0 || p >= uint64(n) || int(p) <= prev {
				return nil, fail(pos, "bad position")
			}
			pos += k
			idx, k := varint.Uvarint(d[pos:])
			if k <= 0 || pos+k >= len(d) || d[pos+k] > 1 {
				return nil, fail(pos, "bad index or kind")
			}
			pos += k
			out[p], listed[p] = slot{index: idx, already: d[pos] == 1}, true
			pos++
			prev = int(p)
		}
		if pos != len(d) {
			return nil, fail(pos, "trailing bytes")
		}
	}
	next := res.Value
	for i := range out {
		if !listed[i] {
			out[i].index = next
			next++
		}
	}
	return out, nil
}

// snapHeader is what a snapshot holds besides its records.
type snapHeader struct {
	deployment uint64
	shard      uint32
	applied    uint64
	first, end uint64
	window     []coordlog.WindowEntry
}

// snapWriter writes a snapshot: the header, then end-first records, then
// finish.
type snapWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   uint64 // records left to write
	tmp []byte
}

func newSnapWriter(w io.Writer, h *snapHeader) (*snapWriter, error) {
	crc := crc32.New(castagnoli)
	sw := &snapWriter{w: bufio.NewWriterSize(io.MultiWriter(w, crc), 64<<10), crc: crc, n: h.end - h.first}
	b := make([]byte, 0, 64)
	b = append(b, snapshotMagic...)
	b = append(b, snapshotVersion)
	b = binary.LittleEndian.AppendUint64(b, h.deployment)
	b = binary.LittleEndian.AppendUint32(b, h.shard)
	b = binary.LittleEndian.AppendUint64(b, h.applied)
	b = binary.LittleEndian.AppendUint64(b, h.first)
	b = binary.LittleEndian.AppendUint64(b, h.end)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h.window)))
	if _, err := sw.w.Write(b); err != nil {
		return nil, err
	}
	for _, e := range h.window {
		id := e.ID.Bytes()
		b = append(b[:0], id[:]...)
		b = binary.LittleEndian.AppendUint64(b, e.Index)
		b = binary.LittleEndian.AppendUint64(b, e.Tag)
		if _, err := sw.w.Write(b); err != nil {
			return nil, err
		}
	}
	return sw, nil
}

func (sw *snapWriter) record(meta, rec []byte) error {
	if sw.n == 0 {
		return errors.New("coord/raft: more snapshot records than its header says")
	}
	sw.n--
	sw.tmp = append(sw.tmp[:0], meta...)
	sw.tmp = binary.AppendUvarint(sw.tmp, uint64(len(rec)))
	if _, err := sw.w.Write(sw.tmp); err != nil {
		return err
	}
	_, err := sw.w.Write(rec)
	return err
}

func (sw *snapWriter) finish(w io.Writer) error {
	if sw.n != 0 {
		return fmt.Errorf("coord/raft: snapshot short of %d records", sw.n)
	}
	if err := sw.w.Flush(); err != nil {
		return err
	}
	_, err := w.Write(binary.LittleEndian.AppendUint32(nil, sw.crc.Sum32()))
	return err
}

// snapReader reads a snapshot that snapWriter wrote: header, records,
// finish.
type snapReader struct {
	cr   *countingReader
	left uint64
	rec  []byte
}

func (sr *snapReader) fail(format string, args ...any) error {
	return &EncodingError{What: "snapshot", Pos: sr.cr.n, Msg: fmt.Sprintf(format, args...)}
}

func newSnapReader(r io.Reader) (*snapReader, *snapHeader, error) {
	sr := &snapReader{cr: &countingReader{r: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}}
	var head [45]byte
	if _, err := io.ReadFull(sr.cr, head[:]); err != nil {
		return nil, nil, sr.fail("header: %v", err)
	}
	if string(head[:4]) != snapshotMagic {
		return nil, nil, sr.fail("bad magic %q", head[:4])
	}
	if head[4] != snapshotVersion {
		return nil, nil, sr.fail("unknown version %d", head[4])
	}
	h := &snapHeader{
		deployment: binary.LittleEndian.Uint64(head[5:]),
		shard:      binary.LittleEndian.Uint32(head[13:]),
		applied:    binary.LittleEndian.Uint64(head[17:]),
		first:      binary.LittleEndian.Uint64(head[25:]),
		end:        binary.LittleEndian.Uint64(head[33:]),
	}
	n := binary.LittleEndian.Uint32(head[41:])
	if h.end < h.first || h.end-h.first > 1<<40 {
		return nil, nil, sr.fail("records from %d to %d", h.first, h.end)
	}
	if n > coordlog.MaxWindow {
		return nil, nil, sr.fail("window of %d IDs", n)
	}
	var e [32]byte
	for i := uint32(0); i < n; i++ {
		if _, err := io.ReadFull(sr.cr, e[:]); err != nil {
			return nil, nil, sr.fail("window entry %d: %v", i, err)
		}
		h.window = append(h.window, coordlog.WindowEntry{ID: semevent.IDFromBytes([16]byte(e[:16])), Index: binary.LittleEndian.Uint64(e[16:]), Tag: binary.LittleEndian.Uint64(e[24:])})
	}
	sr.left = h.end - h.first
	return sr, h, nil
}

// record returns the next record's metadata and codec record (valid until
// the next call), checking that the record decodes.
func (sr *snapReader) record(ev *semevent.Event) ([metaSize]byte, []byte, error) {
	var meta [metaSize]byte
	if sr.left == 0 {
		return meta, nil, sr.fail("no records left")
	}
	sr.left--
	if _, err := io.ReadFull(sr.cr, meta[:]); err != nil {
		return meta, nil, sr.fail("record meta: %v", err)
	}
	l, err := varint.ReadUvarint(sr.cr)
	if err != nil {
		return meta, nil, sr.fail("record length: %v", err)
	}
	if l > maxSnapRecord {
		return meta, nil, sr.fail("record length %d too large", l)
	}
	if uint64(cap(sr.rec)) < l {
		sr.rec = make([]byte, l)
	}
	rec := sr.rec[:l]
	if _, err := io.ReadFull(sr.cr, rec); err != nil {
		return meta, nil, sr.fail("record: %v", err)
	}
	if err := codec.Decode(rec, ev); err != nil {
		return meta, nil, sr.fail("record: %v", err)
	}
	return meta, rec, nil
}

// finish checks the trailing checksum and that nothing follows.
func (sr *snapReader) finish() error {
	if sr.left != 0 {
		return sr.fail("%d records not read", sr.left)
	}
	want := sr.cr.crc.Sum32()
	sr.cr.crc = nil
	var c [4]byte
	if _, err := io.ReadFull(sr.cr, c[:]); err != nil {
		return sr.fail("checksum: %v", err)
	}
	if got := binary.LittleEndian.Uint32(c[:]); got != want {
		return sr.fail("checksum %#08x, want %#08x", got, want)
	}
	var one [1]byte
	if k, _ := sr.cr.Read(one[:]); k != 0 {
		return sr.fail("trailing bytes")
	}
	return nil
}

type countingReader struct {
	r   io.Reader
	n   int64
	crc hash.Hash32 // nil once the checksum is read
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.crc != nil {
		c.crc.Write(p[:n])
	}
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, err
	}
	return b[0], nil
}
