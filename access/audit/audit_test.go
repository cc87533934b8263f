package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/propagation/journal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func keys(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// writeTrail writes n decision records with a checkpoint every 4, closes
// the log (final checkpoint) and returns the file's path.
func writeTrail(t *testing.T, priv ed25519.PrivateKey, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	s, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{Key: priv, CheckpointEvery: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		err := l.Append(audit.Record{Kind: audit.Decision, User: "alice", Tenant: "acme", Roles: []string{"reader"},
			Op: "subscribe", Topic: "tenant.acme.fs.file.write", Path: "/data/" + strings.Repeat("x", i), Reason: "no grant"})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return path
}

type frame struct{ off, end int }

func frames(t *testing.T, b []byte) []frame {
	var out []frame
	for off := 0; off < len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		out = append(out, frame{off, off + 4 + n})
		off += 4 + n
	}
	return out
}

func TestIntactTrailVerifies(t *testing.T) {
	pub, priv := keys(t)
	path := writeTrail(t, priv, 10)
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The Open record, 10 decisions, checkpoints after 4, 8 and the
	// final one at Close.
	if rep.Records != 14 || rep.Checkpoints != 4 {
		t.Fatalf("report %+v, want 14 records and 4 signed ones", rep)
	}
	// Reopening continues the chain.
	s, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(audit.Record{Kind: audit.Admin, User: "root", Op: "reload", Target: "routing", Allowed: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.VerifyFile(path, pub, nil); err != nil || rep.Records != 16 {
		t.Fatalf("after reopening: %+v, %v", rep, err)
	}
}

// TestEveryTamperingIsDetected changes a stored trail in each way an
// attacker with write access to the file could, and expects VerifyFile to
// fail every time, naming a record at or after the change.
func TestEveryTamperingIsDetected(t *testing.T) {
	pub, priv := keys(t)
	_, otherKey := keys(t)
	orig, err := os.ReadFile(writeTrail(t, priv, 10))
	if err != nil {
		t.Fatal(err)
	}
	fs := frames(t, orig)
	cut := func(b []byte, from, to int) []byte { return append(append([]byte(nil), b[:from]...), b[to:]...) }
	forged := func(sign bool) []byte {
		// A forger who can read the trail chains a new record correctly
		// and signs a checkpoint with a key of their own.
		return forge(t, orig, otherKey, sign)
	}
	type tamper struct {
		name string
		data []byte
	}
	var cases []tamper
	// Modify: flip one bit in every byte position of a middle record.
	mid := fs[5]
	for pos := mid.off; pos < mid.end; pos++ {
		b := append([]byte(nil), orig...)
		b[pos] ^= 0x01
		cases = append(cases, tamper{"flip byte " + itoa(pos), b})
	}
	// Delete one record (each one), reorder two neighbours.
	for i, f := range fs {
		cases = append(cases, tamper{"delete record " + itoa(i), cut(orig, f.off, f.end)})
	}
	for i := 0; i+1 < len(fs); i++ {
		a, b := fs[i], fs[i+1]
		sw := append(append(append(append([]byte(nil), orig[:a.off]...), orig[b.off:b.end]...), orig[a.off:a.end]...), orig[b.end:]...)
		cases = append(cases, tamper{"swap records " + itoa(i) + "," + itoa(i+1), sw})
	}
	// Truncate at every byte position.
	for n := 1; n < len(orig); n++ {
		cases = append(cases, tamper{"truncate to " + itoa(n), orig[:n]})
	}
	// Append a forged record, unsigned or under the wrong key.
	cases = append(cases, tamper{"append forged record", forged(false)})
	cases = append(cases, tamper{"append forged record and checkpoint", forged(true)})

	// The chain head is kept outside the trail, as Log.Head advises: a
	// trail cut back exactly to an earlier checkpoint is a valid trail on
	// its own and only the anchor tells (TestAnchorDetects… shows both).
	head, err := audit.VerifyFile(writeTo(t, orig), pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	missed := 0
	path := filepath.Join(t.TempDir(), "tampered.log")
	for _, tc := range cases {
		if err := os.WriteFile(path, tc.data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := audit.VerifyFile(path, pub, &audit.VerifyOptions{Anchor: &head.Head})
		var ve *audit.VerifyError
		if !errors.As(err, &ve) {
			missed++
			t.Errorf("%s: VerifyFile = %v, want a *VerifyError", tc.name, err)
		}
	}
	if missed == 0 {
		t.Logf("%d tamperings, all detected", len(cases))
	}
}

func TestAnchorDetectsCutBackToEarlierCheckpoint(t *testing.T) {
	pub, priv := keys(t)
	path := writeTrail(t, priv, 10)
	orig, _ := os.ReadFile(path)
	fs := frames(t, orig)
	recs := make([][]byte, len(fs))
	for i, f := range fs {
		recs[i] = orig[f.off+4 : f.end]
	}
	rep, err := audit.Verify(recs, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	anchor := rep.Head
	// Cut back to the checkpoint after record 4: still a valid trail on
	// its own, but not with the anchor kept outside.
	if _, err := audit.Verify(recs[:6], pub, nil); err != nil {
		t.Fatalf("the prefix up to a checkpoint should verify alone: %v", err)
	}
	if _, err := audit.Verify(recs[:6], pub, &audit.VerifyOptions{Anchor: &anchor}); err == nil {
		t.Fatal("a trail cut back behind its anchor verified")
	}
	if _, err := audit.Verify(recs, pub, &audit.VerifyOptions{Anchor: &anchor}); err != nil {
		t.Fatalf("full trail with its anchor: %v", err)
	}
}

func TestJournalStore(t *testing.T) {
	pub, priv := keys(t)
	j, err := journal.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	s, err := audit.NewJournalStore(j)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{Key: priv, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 7 {
		if err := l.Append(audit.Record{Kind: audit.Decision, User: "bob", Op: "replay"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	recs, err := audit.ReadJournal(j)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(recs, pub, nil); err != nil || rep.Records != 11 {
		t.Fatalf("journal trail: %+v, %v", rep, err)
	}
}

func TestStoreFailureStopsTheLog(t *testing.T) {
	_, priv := keys(t)
	if _, err := audit.New(&failStore{}, &audit.Options{Key: priv}); !errors.Is(err, audit.ErrFailed) {
		t.Fatalf("New on a store that cannot take the Open record = %v, want ErrFailed", err)
	}
	s := &failStore{ok: 1}
	l, err := audit.New(s, &audit.Options{Key: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if err := l.Append(audit.Record{Kind: audit.Decision}); !errors.Is(err, audit.ErrFailed) {
		t.Fatalf("Append on a failing store = %v, want ErrFailed", err)
	}
	if err := l.Append(audit.Record{Kind: audit.Decision}); !errors.Is(err, audit.ErrFailed) {
		t.Fatalf("second Append = %v, want ErrFailed again", err)
	}
	if _, err := audit.New(s, nil); !errors.Is(err, semevent.ErrInvalidOptions) {
		t.Fatalf("New without a key = %v", err)
	}
}

// failStore takes ok appends, then fails every one.
type failStore struct{ ok int }

func (s *failStore) Append([]byte) error {
	if s.ok == 0 {
		return errors.New("EIO")
	}
	s.ok--
	return nil
}
func (*failStore) Sync() error                          { return nil }
func (*failStore) Records(func(rec []byte) error) error { return nil }
func (*failStore) Close() error                         { return nil }

func writeTo(t *testing.T, b []byte) string {
	path := filepath.Join(t.TempDir(), "t.log")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func FuzzDecode(f *testing.F) {
	r := audit.Record{Seq: 3, Kind: audit.Checkpoint, User: "u", Roles: []string{"a", "b"}, Sig: make([]byte, 64)}
	f.Add(r.AppendBinary(nil))
	f.Add([]byte{1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := audit.Decode(b)
		if err != nil {
			var de *audit.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T, want *DecodeError", err)
			}
			return
		}
		again, err := audit.Decode(rec.AppendBinary(nil))
		if err != nil || again.Hash() != rec.Hash() {
			t.Fatalf("re-encode of a decoded record does not round-trip: %v", err)
		}
	})
}

// Issue 18 item 23: a decoder must refuse a non-minimal varint, or one
// record has two encodings (and two hashes).
func TestDecodeRefusesNonMinimalVarints(t *testing.T) {
	r := audit.Record{Seq: 5, Kind: audit.Decision, User: "u"}
	b := r.AppendBinary(nil)
	if _, err := audit.Decode(b); err != nil {
		t.Fatal(err)
	}
	// The sequence number 5 right after the version byte, padded: 0x85 0x00.
	padded := append([]byte{b[0], 0x85, 0x00}, b[2:]...)
	var de *audit.DecodeError
	if _, err := audit.Decode(padded); !errors.As(err, &de) {
		t.Fatalf("Decode of a padded sequence number = %v, want a *DecodeError", err)
	}
}
