package raft

import (
	"bytes"
	"errors"
	"testing"

	pb "github.com/lni/dragonboat/v4/raftpb"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

func sampleRecords() [][]byte {
	return [][]byte{
		codec.Append(nil, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a", ID: semevent.MakeID(1, 2, 3), Time: 4}),
		codec.Append(nil, &semevent.Event{Kind: semevent.KindFileRename, Path: "/b", OldPath: "/c", Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte("xyz")}),
	}
}

func sampleProposal() []byte {
	recs := sampleRecords()
	b := proposalHeader(nil, len(recs))
	for _, r := range recs {
		b = appendRecord(b, r)
	}
	return b
}

func sampleSnapshot() []byte {
	var buf bytes.Buffer
	writeSnapshot(&buf, sampleRecords())
	return buf.Bytes()
}

func TestProposalRoundTrip(t *testing.T) {
	recs, err := decodeProposal(sampleProposal(), true)
	if err != nil || len(recs) != 2 || !bytes.Equal(recs[1], sampleRecords()[1]) {
		t.Fatalf("decodeProposal = %d records, %v", len(recs), err)
	}
	got, err := readSnapshot(bytes.NewReader(sampleSnapshot()))
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], sampleRecords()[0]) {
		t.Fatalf("readSnapshot = %d records, %v", len(got), err)
	}
	for _, bad := range [][]byte{nil, {9}, {1, 0}, {1, 1}, {1, 1, 5, 1}, append(sampleProposal(), 0)} {
		if _, err := decodeProposal(bad, true); err == nil {
			t.Errorf("decodeProposal(%x) = nil error", bad)
		}
	}
}

// FuzzDecodeProposal: never panics; what it accepts re-encodes to the same
// bytes.
func FuzzDecodeProposal(f *testing.F) {
	f.Add(sampleProposal())
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := decodeProposal(b, true)
		if err != nil {
			return
		}
		out := proposalHeader(nil, len(recs))
		for _, r := range recs {
			out = appendRecord(out, r)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("re-encoded %x, decoded from %x", out, b)
		}
	})
}

// FuzzReadSnapshot: never panics; what it accepts re-encodes to the same
// bytes.
func FuzzReadSnapshot(f *testing.F) {
	f.Add(sampleSnapshot())
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := readSnapshot(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		writeSnapshot(&buf, recs)
		if !bytes.Equal(buf.Bytes(), b) {
			t.Fatalf("re-encoded %x, decoded from %x", buf.Bytes(), b)
		}
	})
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
