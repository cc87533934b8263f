package raft

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	pb "github.com/lni/dragonboat/v4/raftpb"
	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/coordlog"
)

func sampleRecords() [][]byte {
	return [][]byte{
		codec.Append(nil, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a", ID: semevent.MakeID(1, 2, 3), Time: 4}),
		codec.Append(nil, &semevent.Event{Kind: semevent.KindFileRename, Path: "/b", OldPath: "/c", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte("xyz")}),
	}
}

func sampleProposal() []byte {
	recs := sampleRecords()
	b := proposalHeader(nil, 7, 99, len(recs))
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return b
}

// snapshotData is a whole snapshot in memory, for the round trips.
type snapshotData struct {
	h     snapHeader
	metas [][metaSize]byte
	recs  [][]byte
}

func readSnapshot(r io.Reader) (*snapshotData, error) {
	sr, h, err := newSnapReader(r)
	if err != nil {
		return nil, err
	}
	d := &snapshotData{h: *h}
	var ev semevent.Event
	for range h.end - h.first {
		m, rec, err := sr.record(&ev)
		if err != nil {
			return nil, err
		}
		d.metas = append(d.metas, m)
		d.recs = append(d.recs, bytes.Clone(rec))
	}
	return d, sr.finish()
}

func writeSnapshot(w io.Writer, d *snapshotData) error {
	sw, err := newSnapWriter(w, &d.h)
	if err != nil {
		return err
	}
	for i, rec := range d.recs {
		if err := sw.record(d.metas[i][:], rec); err != nil {
			return err
		}
	}
	return sw.finish(w)
}

func sampleSnapshot() []byte {
	recs := sampleRecords()
	d := &snapshotData{h: snapHeader{deployment: 1, shard: 0, applied: 9, first: 3, end: 3 + uint64(len(recs)),
		window: []coordlog.WindowEntry{{ID: semevent.MakeID(1, 2, 3), Index: 4}}}, recs: recs}
	for i := range recs {
		var m [metaSize]byte
		putMeta(&m, 8+uint64(i), 1, uint32(i), uint32(len(recs)))
		d.metas = append(d.metas, m)
	}
	var buf bytes.Buffer
	if err := writeSnapshot(&buf, d); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func TestProposalRoundTrip(t *testing.T) {
	p, err := decodeProposal(sampleProposal(), true)
	if err != nil || p.origin != 7 || p.id != 99 || len(p.recs) != 2 || !bytes.Equal(p.recs[1], sampleRecords()[1]) {
		t.Fatalf("decodeProposal = %+v, %v", p, err)
	}
	got, err := readSnapshot(bytes.NewReader(sampleSnapshot()))
	if err != nil || len(got.recs) != 2 || !bytes.Equal(got.recs[0], sampleRecords()[0]) || got.h.applied != 9 || len(got.h.window) != 1 {
		t.Fatalf("readSnapshot = %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {9}, {1, 0}, {1, 1}, {1, 1, 5, 1}, {2, 1, 1}, append(sampleProposal(), 0)} {
		if _, err := decodeProposal(bad, true); err == nil {
			t.Errorf("decodeProposal(%x) = nil error", bad)
		}
	}
	snap := sampleSnapshot()
	for i := range snap {
		flipped := bytes.Clone(snap)
		flipped[i] ^= 0x20
		if _, err := readSnapshot(bytes.NewReader(flipped)); err == nil {
			t.Errorf("readSnapshot with byte %d flipped = nil error", i)
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	dups := appendDup(appendDup(nil, 1, 40, true), 3, 2, false)
	got, err := decodeResult(sm.Result{Value: 50, Data: dupResult(dups, 2)}, 5)
	want := []slot{{50, false}, {40, true}, {51, false}, {2, false}, {52, false}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("decodeResult = %v, %v; want %v", got, err, want)
	}
	if _, err := decodeResult(errResult(errors.New("boom")), 1); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("decodeResult(rejected) = %v", err)
	}
}

// FuzzDecodeProposal: never panics; what it accepts re-encodes to the same
// bytes.
func FuzzDecodeProposal(f *testing.F) {
	f.Add(sampleProposal())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeProposal(b, true)
		if err != nil || b[0] != proposalVersion {
			return
		}
		out := proposalHeader(nil, p.origin, p.id, len(p.recs))
		for _, r := range p.recs {
			out = appendRecord(out, r)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded %x, decoded from %x", out, b)
		}
	})
}

// FuzzDecodeResult: never panics; an accepted result gives every event an
// index.
func FuzzDecodeResult(f *testing.F) {
	f.Add(uint64(5), dupResult(appendDup(nil, 1, 3, true), 1), 3)
	f.Add(uint64(0), []byte("Ebad"), 1)
	f.Fuzz(func(t *testing.T, v uint64, data []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		slots, err := decodeResult(sm.Result{Value: v, Data: data}, n)
		if err != nil {
			return
		}
		if len(slots) != n {
			t.Fatalf("%d slots for %d events", len(slots), n)
		}
	})
}

// FuzzReadSnapshot: never panics; what it accepts re-encodes to the same
// bytes.
func FuzzReadSnapshot(f *testing.F) {
	f.Add(sampleSnapshot())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := readSnapshot(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := writeSnapshot(&buf, d); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), b) {
			t.Fatalf("re-encoded %x, decoded from %x", buf.Bytes(), b)
		}
	})
}

// FuzzApply feeds arbitrary proposals, as a faulty or hostile peer could
// commit them, to a shard's state machine: never a panic, a malformed
// proposal is applied as nothing (rejected in its result, the journal
// unchanged), and a well-formed one appends exactly its events that are
// not already committed.
func FuzzApply(f *testing.F) {
	f.Add(sampleProposal())
	stamped := sampleRecords()
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/x", ID: semevent.MakeID(9, 9, 9), Time: 9}
	f.Add(appendRecord(proposalHeader(nil, 2, 5, 1), codec.Append(nil, ev)))
	f.Add(appendRecord(proposalHeader(nil, 2, 5, 1), stamped[0]))
	f.Add([]byte{2, 1, 1, 3, 0, 0, 0})
	s := openTestSM(f, f.TempDir(), nil)
	defer s.Close()
	index := uint64(0)
	f.Fuzz(func(t *testing.T, cmd []byte) {
		index++
		before := s.jw.NextOffset()
		out, err := s.Update([]sm.Entry{{Index: index, Cmd: cmd}})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
		res := out[0].Result
		p, perr := decodeProposal(cmd, true)
		recs := p.recs
		if perr == nil {
			perr = checkStamped(recs)
		}
		if perr != nil {
			if res.Value != 0 || s.jw.NextOffset() != before {
				t.Fatalf("malformed proposal (%v) applied: result %+v, journal %d -> %d", perr, res, before, s.jw.NextOffset())
			}
			return
		}
		slots, err := decodeResult(res, len(recs))
		if err != nil {
			t.Fatalf("well-formed proposal rejected: %v", err)
		}
		// The new records have the indexes after before, in order; every
		// other event points at a record already there (committed
		// before, or by an earlier attempt of the same proposal).
		added := 0
		for _, sl := range slots {
			switch {
			case sl.index == before+uint64(added)+1:
				added++
			case sl.index > before || sl.index == 0:
				t.Fatalf("slot %+v: neither the next new record (%d) nor an old one", sl, before+uint64(added)+1)
			}
		}
		if got := s.jw.NextOffset() - before; got != uint64(added) {
			t.Fatalf("%d records appended, result says %d new", got, added)
		}
		if s.applied != index {
			t.Fatalf("applied %d after entry %d", s.applied, index)
		}
	})
}

// checkStamped is what the state machine demands of each record besides
// decoding: a valid event with an ID and a time.
func checkStamped(recs [][]byte) error {
	for _, rec := range recs {
		var ev semevent.Event
		if err := codec.Decode(rec, &ev); err != nil {
			return err
		}
		if err := ev.Validate(); err != nil {
			return err
		}
		if ev.ID.IsZero() || ev.Time == 0 {
			return errors.New("unstamped")
		}
	}
	return nil
}

// FuzzTLSFrames feeds an arbitrary byte stream to the TLS transport's
// frame reader and message decoding: never a panic, no frame beyond
// maxFrame, and a message is handed on only when its sender is one the
// certificate speaks for (node 1 here).
func FuzzTLSFrames(f *testing.F) {
	b := pb.MessageBatch{DeploymentId: 1, Requests: []pb.Message{{Type: pb.Heartbeat, To: 2, From: 1, ShardID: 1, Term: 3}}}
	raw, _ := b.Marshal()
	frame := append([]byte{frameBatch, 0, 0, 0, byte(len(raw))}, raw...)
	f.Add(frame)
	f.Add(append(append([]byte(nil), frame...), frame...))
	ch := pb.Chunk{ShardID: 1, ReplicaID: 2, From: 1, Data: []byte("x")}
	craw, _ := ch.Marshal()
	f.Add(append([]byte{frameChunk, 0, 0, 0, byte(len(craw))}, craw...))
	f.Add([]byte{frameBatch, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, stream []byte) {
		readFrames(bytes.NewReader(stream), func(kind byte, p []byte) bool {
			if len(p) == 0 || len(p) > maxFrame {
				t.Fatalf("frame of %d bytes handed on", len(p))
			}
			b, ch, err := decodeFrame(kind, p)
			switch {
			case err != nil:
				if !errors.Is(err, errBadFrame) {
					t.Fatalf("decodeFrame error %v does not wrap errBadFrame", err)
				}
				return false
			case b != nil:
				for _, m := range b.Requests {
					if m.From != 1 {
						return false
					}
				}
				return true
			default:
				return ch.From == 1
			}
		})
	})
}
