package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/vexfs/semevent/access/audit"
)

// forge appends to a stored trail what an attacker who can read and
// write the file (but not sign with the trail's key) can: records
// chained correctly, and with sign a checkpoint under their own key.
func forge(t *testing.T, trail []byte, key ed25519.PrivateKey, sign bool) []byte {
	t.Helper()
	out := append([]byte(nil), trail...)
	var seq uint64
	var prev [32]byte
	for _, f := range frames(t, trail) {
		raw := trail[f.off+4 : f.end]
		r, err := audit.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		seq, prev = r.Seq+1, sha256.Sum256(raw)
	}
	add := func(r audit.Record) {
		r.Seq, r.Prev, r.Time = seq, prev, 1
		raw := r.AppendBinary(nil)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(raw)))
		out = append(out, raw...)
		seq, prev = seq+1, sha256.Sum256(raw)
	}
	for range 3 {
		add(audit.Record{Kind: audit.Decision, User: "mallory", Op: "publish", Allowed: true, Topic: "fs.file.write"})
	}
	if sign {
		add(audit.Record{Kind: audit.Checkpoint, Sig: ed25519.Sign(key, prev[:])})
	}
	return out
}

func reopen(t *testing.T, path string, opts *audit.Options) (*audit.Log, error) {
	t.Helper()
	s, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, opts)
	if err != nil {
		s.Close()
	}
	return l, err
}

// Issue 18 item 11: three records forged while the process was stopped
// were signed by the next run, and the trail then verified with the
// previous run's anchor. New must refuse the unsigned tail.
func TestRestartRefusesRecordsForgedWhileStopped(t *testing.T) {
	pub, priv := keys(t)
	_, mallory := keys(t)
	path := writeTrail(t, priv, 5)
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	anchor := rep.Head
	orig, _ := os.ReadFile(path)
	for _, signed := range []bool{false, true} {
		if err := os.WriteFile(path, forge(t, orig, mallory, signed), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := reopen(t, path, &audit.Options{Key: priv, Anchor: &anchor})
		if err == nil {
			l.Close(context.Background())
			t.Fatalf("forged tail (signed by another key: %v) adopted by the next run", signed)
		}
		var ute *audit.UnsignedTailError
		var ve *audit.VerifyError
		if signed && !errors.As(err, &ve) || !signed && (!errors.As(err, &ute) || ute.Count != 3 || !errors.Is(err, audit.ErrUnsignedTail)) {
			t.Fatalf("forged tail (signed %v): New = %v, want a *VerifyError for a foreign signature or an *UnsignedTailError of 3", signed, err)
		}
		after, _ := os.ReadFile(path)
		if !bytes.Equal(after, forge(t, orig, mallory, signed)) {
			t.Fatal("New appended to a trail it refused")
		}
	}
}

// Issue 18 item 11: a fabricated unsigned trail placed before the first
// start was adopted and signed by the legitimate key.
func TestFirstStartRefusesFabricatedTrail(t *testing.T) {
	_, priv := keys(t)
	_, mallory := keys(t)
	path := filepath.Join(t.TempDir(), "audit.log")
	for _, signed := range []bool{false, true} {
		if err := os.WriteFile(path, forge(t, nil, mallory, signed), 0o600); err != nil {
			t.Fatal(err)
		}
		if l, err := reopen(t, path, &audit.Options{Key: priv}); err == nil {
			l.Close(context.Background())
			t.Fatalf("fabricated trail (signed by another key: %v) adopted", signed)
		} else if ve := (*audit.VerifyError)(nil); !errors.As(err, &ve) {
			t.Fatalf("fabricated trail: New = %v, want a *VerifyError", err)
		}
	}
}

// A crash after records but before their checkpoint leaves an unsigned
// tail too: with QuarantineUnsignedTail the next run continues and says
// so in a signed Quarantine record; Verify counts the records it does not
// vouch for.
func TestRestartQuarantinesUnsignedTail(t *testing.T) {
	pub, priv := keys(t)
	_, mallory := keys(t)
	path := writeTrail(t, priv, 5)
	orig, _ := os.ReadFile(path)
	if err := os.WriteFile(path, forge(t, orig, mallory, false), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := reopen(t, path, &audit.Options{Key: priv, QuarantineUnsignedTail: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(audit.Record{Kind: audit.Admin, User: "root", Op: "reload", Allowed: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Quarantined != 3 {
		t.Fatalf("report %+v: want the 3 forged records quarantined", rep)
	}
}

// The caller's anchor is checked on start: a trail cut back to an
// earlier checkpoint, valid on its own, is refused.
func TestRestartChecksAnchor(t *testing.T) {
	pub, priv := keys(t)
	path := writeTrail(t, priv, 10)
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(path)
	fs := frames(t, orig)
	if err := os.WriteFile(path, orig[:fs[5].end], 0o600); err != nil { // up to the checkpoint after 4 decisions
		t.Fatal(err)
	}
	if l, err := reopen(t, path, &audit.Options{Key: priv, Anchor: &rep.Head}); err == nil {
		l.Close(context.Background())
		t.Fatal("a trail cut back behind the caller's anchor was continued")
	}
	// A removed trail, too.
	os.Remove(path)
	if l, err := reopen(t, path, &audit.Options{Key: priv, Anchor: &rep.Head}); err == nil {
		l.Close(context.Background())
		t.Fatal("an empty store was started over although the caller holds an anchor")
	}
}

// Issue 18 item 12: 26 of 134 single-byte flips of the final checkpoint
// verified (User, Reason, Time were not signed). Every flip must fail.
func TestEveryByteOfFinalCheckpointIsSigned(t *testing.T) {
	pub, priv := keys(t)
	path := writeTrail(t, priv, 5)
	orig, _ := os.ReadFile(path)
	fs := frames(t, orig)
	last := fs[len(fs)-1]
	rep, err := audit.VerifyFile(path, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "t.log")
	for pos := last.off + 4; pos < last.end; pos++ {
		for _, bit := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), orig...)
			b[pos] ^= bit
			os.WriteFile(tampered, b, 0o600)
			for _, opts := range []*audit.VerifyOptions{nil, {Trail: rep.Trail}} {
				if _, err := audit.VerifyFile(tampered, pub, opts); err == nil {
					t.Errorf("flip 0x%02x at byte %d of the final checkpoint verified", bit, pos-last.off-4)
				}
			}
		}
	}
	// And a checkpoint whose fields are rewritten and re-encoded whole.
	r, _ := audit.Decode(orig[last.off+4 : last.end])
	for _, edit := range []func(r *audit.Record){
		func(r *audit.Record) { r.User = "root" },
		func(r *audit.Record) { r.Reason = "all good" },
		func(r *audit.Record) { r.Time++ },
		func(r *audit.Record) { r.Target = "x" },
		func(r *audit.Record) { r.Allowed = true },
	} {
		c := *r
		edit(&c)
		raw := c.AppendBinary(nil)
		b := binary.LittleEndian.AppendUint32(append([]byte(nil), orig[:last.off]...), uint32(len(raw)))
		os.WriteFile(tampered, append(b, raw...), 0o600)
		if _, err := audit.VerifyFile(tampered, pub, nil); err == nil {
			t.Errorf("rewritten checkpoint %+v verified", c)
		}
	}
}

// Issue 18 item 13: another trail signed by the same key verified in
// place of this one. With the trail's identity (kept beside the key, no
// anchor), it does not.
func TestSameKeyTrailSwapFails(t *testing.T) {
	pub, priv := keys(t)
	mine := writeTrail(t, priv, 5)
	other := writeTrail(t, priv, 7)
	rep, err := audit.VerifyFile(mine, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	orep, err := audit.VerifyFile(other, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Trail == orep.Trail {
		t.Fatal("two trails share an identity")
	}
	if _, err := audit.VerifyFile(other, pub, &audit.VerifyOptions{Trail: rep.Trail}); err == nil {
		t.Fatal("another trail signed by the same key verified in place of this one")
	}
	// The Log refuses it too.
	if l, err := reopen(t, other, &audit.Options{Key: priv, Trail: rep.Trail}); err == nil {
		l.Close(context.Background())
		t.Fatal("New continued another trail signed by the same key")
	}
	// Splicing the other trail's records behind this one's Open record
	// does not verify either: every signature covers the identity.
	a, _ := os.ReadFile(mine)
	b, _ := os.ReadFile(other)
	fa, fb := frames(t, a), frames(t, b)
	spliced := append(append([]byte(nil), a[:fa[0].end]...), b[fb[0].end:]...)
	if _, err := audit.VerifyFile(writeTo(t, spliced), pub, nil); err == nil {
		t.Fatal("a spliced trail verified")
	}
}

// Issue 18 item 14: VerifyFile with a nil or 16-byte key panicked.
func TestVerifyRefusesBadKeys(t *testing.T) {
	_, priv := keys(t)
	path := writeTrail(t, priv, 2)
	for _, k := range [][]byte{nil, make([]byte, 16), make([]byte, 33)} {
		if _, err := audit.VerifyFile(path, k, nil); !errors.Is(err, audit.ErrKeySize) {
			t.Errorf("VerifyFile with a %d-byte key = %v, want ErrKeySize", len(k), err)
		}
		if _, err := audit.Verify(nil, k, nil); !errors.Is(err, audit.ErrKeySize) {
			t.Errorf("Verify with a %d-byte key = %v, want ErrKeySize", len(k), err)
		}
	}
}

// Issue 18 item 15: Enqueue never waits for the store; when the writer
// falls behind, records are dropped, counted, and the trail says so.
func TestEnqueueDropsAreCountedAndRecorded(t *testing.T) {
	pub, priv := keys(t)
	s := &slowStore{release: make(chan struct{})}
	l, err := audit.New(s, &audit.Options{Key: priv, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	s.block.Store(true)
	queued := 0
	for range 100 {
		if l.Enqueue(audit.Record{Kind: audit.Decision, User: "u", Op: "subscribe"}) {
			queued++
		}
	}
	st := l.Stats()
	if st.Dropped == 0 || int(st.Dropped)+queued != 100 {
		t.Fatalf("stats %+v with %d queued of 100: want every refused record counted", st, queued)
	}
	s.block.Store(false)
	close(s.release)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(s.recs, pub, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, raw := range s.recs {
		r, _ := audit.Decode(raw)
		if r.Target == "audit.queue" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no record says records were dropped (%+v)", rep)
	}
}

// slowStore blocks its appends while block is set, until release closes.
type slowStore struct {
	block   atomic.Bool
	release chan struct{}
	recs    [][]byte
}

func (s *slowStore) Append(rec []byte) error {
	if s.block.Load() {
		<-s.release
	}
	s.recs = append(s.recs, append([]byte(nil), rec...))
	return nil
}
func (*slowStore) Sync() error { return nil }
func (s *slowStore) Records(fn func(rec []byte) error) error {
	return nil
}
func (*slowStore) Close() error { return nil }
