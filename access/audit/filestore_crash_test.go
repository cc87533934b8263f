package audit_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/propagation/journal/journaltest"
)

const crashPath = "/data/audit.log"

// wholeFrames returns the whole frames of a FileStore file, ignoring a
// torn end: the campaign's own reading, independent of the store's.
func wholeFrames(b []byte) [][]byte {
	var out [][]byte
	for off := 0; off+4 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[off:]))
		if n > audit.MaxRecordSize || off+4+n > len(b) {
			break
		}
		out = append(out, b[off+4:off+4+n])
		off += 4 + n
	}
	return out
}

// crashCampaign runs images crash images of a Log on a FileStore over
// journaltest.CrashFS: random appends, checkpoints, clean closes, kills
// and power losses (with and without a torn tail), each followed by a
// restart with audit.New over the image.
func crashCampaign(t *testing.T, seed uint64, images int) (stats map[string]int) {
	pub, priv := keys(t)
	r := rand.New(rand.NewPCG(seed, 14))
	fsys := journaltest.NewCrashFS()
	if err := fsys.MkdirAllDurable("/data"); err != nil {
		t.Fatal(err)
	}
	stats = map[string]int{}
	var (
		acked  [][]byte // every frame acknowledged durable so far
		anchor *audit.Anchor
		trail  audit.TrailID

		quarantined int
		files       int // damaged ends cut aside, beside the trail in /data
	)
	fail := func(img int, format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d image %d: %s", seed, img, fmt.Sprintf(format, args...))
	}
	// ack records what a returned Sync (New, Checkpoint, Close) made
	// durable: every frame of the file.
	ack := func(img int, fs *journaltest.CrashFS) {
		t.Helper()
		b, err := fs.ReadFile(crashPath)
		if err != nil {
			fail(img, "read: %v", err)
		}
		acked = wholeFrames(b)
	}
	for img := 0; img < images; img++ {
		if img%25 == 0 { // a new trail now and then keeps images small
			fsys, acked, anchor, trail, quarantined = journaltest.NewCrashFS(), nil, nil, audit.TrailID{}, 0
			files = 0
			if err := fsys.MkdirAllDurable("/data"); err != nil {
				t.Fatal(err)
			}
		}
		// The image: every acknowledged frame is there, in order.
		b, err := fsys.ReadFile(crashPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fail(img, "read: %v", err)
		}
		got := wholeFrames(b)
		if len(got) < len(acked) {
			fail(img, "%d acknowledged records, %d whole frames in the image: acknowledged records lost", len(acked), len(got))
		}
		for i := range acked {
			if string(got[i]) != string(acked[i]) {
				fail(img, "acknowledged record %d differs in the image", i)
			}
		}
		s, err := audit.OpenFileFS(fsys, crashPath)
		if err != nil {
			fail(img, "OpenFileFS: %v", err)
		}
		opts := &audit.Options{Key: priv, Trail: trail, Anchor: anchor, CheckpointEvery: 2 + r.IntN(30),
			QuarantineUnsignedTail: r.IntN(2) == 0, Now: func() int64 { return int64(img) }}
		l, err := audit.New(s, opts)
		if err != nil {
			var ute *audit.UnsignedTailError
			if opts.QuarantineUnsignedTail || !errors.As(err, &ute) {
				fail(img, "New (quarantine %v) refused the legitimate trail after a crash: %v", opts.QuarantineUnsignedTail, err)
			}
			stats["refused unsigned tail"]++
			// The documented way on: quarantine the tail.
			s.Close()
			if s, err = audit.OpenFileFS(fsys, crashPath); err != nil {
				fail(img, "OpenFileFS: %v", err)
			}
			opts.QuarantineUnsignedTail = true
			if l, err = audit.New(s, opts); err != nil {
				fail(img, "New with QuarantineUnsignedTail refused the legitimate trail after a crash: %v", err)
			}
		}
		trail = l.Trail()
		// New synced the Open or Quarantine record when it wrote one.
		ack(img, fsys)
		h := l.Head()
		anchor = &h
		// Whatever the restart kept is signed now: the trail verifies
		// strictly, with the anchor and the identity.
		b, _ = fsys.ReadFile(crashPath)
		rep, err := audit.Verify(wholeFrames(b), pub, &audit.VerifyOptions{Trail: trail, Anchor: anchor})
		if err != nil {
			fail(img, "trail after restart: %v", err)
		}
		if rep.Quarantined > quarantined || rep.Checkpoints > 0 && l.Head() != (audit.Anchor{}) && b != nil && len(wholeFrames(b)) > 0 && isQuarantine(wholeFrames(b)) {
			stats["quarantined"]++
		}
		quarantined = rep.Quarantined
		ents, _ := fsys.ReadDir("/data")
		if len(ents)-1 > files {
			stats["torn end cut aside"]++
		}
		files = len(ents) - 1
		if len(wholeFrames(b)) != rep.Records {
			fail(img, "%d frames, %d records verified", len(wholeFrames(b)), rep.Records)
		}
		for range r.IntN(40) {
			switch r.IntN(12) {
			case 0:
				if err := l.Checkpoint(); err != nil {
					fail(img, "Checkpoint: %v", err)
				}
				ack(img, fsys)
				h := l.Head()
				anchor = &h
			default:
				rec := audit.Record{Kind: audit.Decision, User: "alice", Op: "subscribe",
					Topic: fmt.Sprintf("t.%d", r.IntN(1000)), Reason: string(make([]byte, r.IntN(2000)))}
				before := l.Stats().Records
				if err := l.Append(rec); err != nil {
					fail(img, "Append: %v", err)
				}
				if l.Stats().Records == before+2 {
					// The Append wrote a checkpoint, which synced.
					ack(img, fsys)
					h := l.Head()
					anchor = &h
				}
			}
		}
		var next *journaltest.CrashFS
		switch r.IntN(4) {
		case 0:
			if err := l.Close(context.Background()); err != nil {
				fail(img, "Close: %v", err)
			}
			ack(img, fsys)
			h := l.Head()
			anchor = &h
			next = fsys
			stats["close"]++
		case 1:
			next = fsys.Kill()
			stats["kill"]++
		case 2:
			next = fsys.PowerLoss(nil)
			stats["power loss"]++
		default:
			next = fsys.PowerLoss(r)
			stats["power loss, torn tail"]++
		}
		l.Close(context.Background()) // the dead process's Log, on the old FS
		fsys = next
	}
	return stats
}

// TestFileStoreCrashCampaign (issue 14, machinery): a Log on a FileStore
// over journaltest.CrashFS through random appends, checkpoints, clean
// closes, SIGKILL-like kills and power losses (with and without a torn
// tail), each image restarted with audit.New. Every record acknowledged
// durable (a returned New, Checkpoint or Close) survives every image, the
// restart never refuses the legitimate trail except with the documented
// *UnsignedTailError (after which QuarantineUnsignedTail continues it),
// and the trail then verifies strictly with the trail id and the anchor.
// SEMEVENT_SOAK=1 runs 20,000 images.
func TestFileStoreCrashCampaign(t *testing.T) {
	images := 240
	if os.Getenv("SEMEVENT_SOAK") != "" {
		images = 20000
	}
	seed := uint64(time.Now().UnixNano())
	stats := crashCampaign(t, seed, images)
	t.Logf("seed %d: %d images, %v", seed, images, stats)
}

// isQuarantine reports whether the last frame is a Quarantine record.
func isQuarantine(frames [][]byte) bool {
	r, err := audit.Decode(frames[len(frames)-1])
	return err == nil && r.Kind == audit.Quarantine
}

// A kill in the middle of a buffered write leaves a torn last frame.
// Before the fix New refused the legitimate trail with a *VerifyError
// ("truncated frame") even with QuarantineUnsignedTail, so a plain
// SIGKILL made the trail unusable. Now New refuses it with the documented
// *UnsignedTailError (Damaged says where), and with
// QuarantineUnsignedTail it moves the torn bytes aside, signs a
// Quarantine record that says where they went, and the trail verifies.
func TestKilledWriteTornTailIsQuarantined(t *testing.T) {
	pub, priv := keys(t)
	fsys := journaltest.NewCrashFS()
	if err := fsys.MkdirAllDurable("/data"); err != nil {
		t.Fatal(err)
	}
	s, err := audit.OpenFileFS(fsys, crashPath)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{Key: priv, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	head, trail := l.Head(), l.Trail()
	for range 20 { // 20 records of ~700 bytes: the 4 KiB buffer flushes mid-frame
		if err := l.Append(audit.Record{Kind: audit.Decision, User: "alice", Reason: string(make([]byte, 700))}); err != nil {
			t.Fatal(err)
		}
	}
	img := fsys.Kill()
	l.Close(context.Background())
	b, _ := img.ReadFile(crashPath)
	whole := wholeFrames(b)
	if n := 0; true {
		for _, f := range whole {
			n += 4 + len(f)
		}
		if n == len(b) {
			t.Fatalf("the image ends on a whole frame (%d bytes): no torn tail to test", len(b))
		}
	}
	opts := &audit.Options{Key: priv, Trail: trail, Anchor: &head}
	s, _ = audit.OpenFileFS(img, crashPath)
	_, err = audit.New(s, opts)
	var ute *audit.UnsignedTailError
	if !errors.As(err, &ute) || ute.Damaged == nil || ute.First != 1 || ute.Count != len(whole)-1 {
		t.Fatalf("New over a torn tail = %v, want an *UnsignedTailError of %d records from 1 with Damaged set", err, len(whole)-1)
	}
	s.Close()
	if after, _ := img.ReadFile(crashPath); string(after) != string(b) {
		t.Fatal("New changed a trail it refused")
	}
	s, _ = audit.OpenFileFS(img, crashPath)
	opts.QuarantineUnsignedTail = true
	l, err = audit.New(s, opts)
	if err != nil {
		t.Fatalf("New with QuarantineUnsignedTail over a torn tail: %v", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2, _ := img.ReadFile(crashPath)
	rep, err := audit.Verify(wholeFrames(b2), pub, &audit.VerifyOptions{Trail: trail, Anchor: &head})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Quarantined != len(whole)-1 {
		t.Fatalf("%d records quarantined, want %d", rep.Quarantined, len(whole)-1)
	}
	q, err := audit.Decode(wholeFrames(b2)[len(whole)])
	if err != nil || q.Kind != audit.Quarantine || !strings.Contains(q.Reason, crashPath+".damaged-") {
		t.Fatalf("record after the kept ones = %+v (%v), want a Quarantine record naming the file the torn bytes went to", q, err)
	}
	torn := len(b)
	for _, f := range whole {
		torn -= 4 + len(f)
	}
	ents, _ := img.ReadDir("/data")
	var aside []byte
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "audit.log.damaged-") {
			aside, _ = img.ReadFile("/data/" + e.Name())
		}
	}
	if len(aside) != torn || string(aside) != string(b[len(b)-torn:]) {
		t.Fatalf("set-aside file holds %d bytes, want the %d torn bytes", len(aside), torn)
	}
}

// A damaged record that a record signed for the trail follows is not a
// torn end: New refuses it with the *VerifyError even with
// QuarantineUnsignedTail, and cuts nothing.
func TestDamageBeforeASignedRecordIsRefused(t *testing.T) {
	_, priv := keys(t)
	fsys := journaltest.NewCrashFS()
	if err := fsys.MkdirAllDurable("/data"); err != nil {
		t.Fatal(err)
	}
	s, _ := audit.OpenFileFS(fsys, crashPath)
	l, err := audit.New(s, &audit.Options{Key: priv, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := l.Append(audit.Record{Kind: audit.Decision, User: "alice", Op: "subscribe", Topic: "fs.file.write"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, _ := fsys.ReadFile(crashPath)
	f := wholeFrames(b)
	// Garble the second decision's body: its frame still parses, the
	// chain breaks at the third, and the final checkpoint follows.
	off := 0
	for _, fr := range f[:2] {
		off += 4 + len(fr)
	}
	bad := []byte(string(b))
	bad[off+4+len(f[2])-1] ^= 0xff
	if err := fsys.WriteFile(crashPath, bad); err != nil {
		t.Fatal(err)
	}
	s, _ = audit.OpenFileFS(fsys, crashPath)
	_, err = audit.New(s, &audit.Options{Key: priv, QuarantineUnsignedTail: true})
	var ve *audit.VerifyError
	var ute *audit.UnsignedTailError
	if !errors.As(err, &ve) || errors.As(err, &ute) {
		t.Fatalf("New over a damaged record before a signed one = %v, want a *VerifyError and no *UnsignedTailError", err)
	}
	s.Close()
	if after, _ := fsys.ReadFile(crashPath); string(after) != string(bad) {
		t.Fatal("New changed a trail it refused")
	}
}
