package raft

import (
	"bytes"
	"testing"

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
