package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
)

// FuzzVerify feeds a trail of arbitrary frames and an arbitrary key to
// Verify and to the streaming verifier VerifyFile uses: never a panic,
// only a *VerifyError or ErrKeySize, and both agree.
func FuzzVerify(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	path := filepath.Join(f.TempDir(), "seed.log")
	s, _ := OpenFile(path)
	l, _ := New(s, &Options{Key: priv, CheckpointEvery: 2})
	for range 3 {
		l.Append(Record{Kind: Decision, User: "u", Op: "publish"})
	}
	l.Close(context.Background())
	var seed []byte
	scanFrames(path, func(rec []byte, _ int64) error {
		seed = binary.LittleEndian.AppendUint32(seed, uint32(len(rec)))
		seed = append(seed, rec...)
		return nil
	})
	f.Add(seed, []byte(pub))
	f.Add(seed, []byte(nil))
	f.Add(seed[:len(seed)-1], make([]byte, 16))
	f.Add([]byte{1, 0, 0, 0, 1}, []byte(pub))
	f.Fuzz(func(t *testing.T, trail, key []byte) {
		var ferr error
		if v, err := newVerifier(key, nil); err != nil {
			ferr = err
		} else {
			end, err := scanFrameReader(bytes.NewReader(trail), "fuzz", v.add)
			if err == nil {
				err = v.finish(end)
			}
			ferr = err
		}
		var recs [][]byte
		torn := false
		for off := 0; off < len(trail); {
			if len(trail)-off < 4 {
				torn = true
				break
			}
			n := int(binary.LittleEndian.Uint32(trail[off:]))
			if n > MaxRecordSize || len(trail)-off-4 < n {
				torn = true
				break
			}
			recs = append(recs, trail[off+4:off+4+n])
			off += 4 + n
		}
		_, err := Verify(recs, key, nil)
		for _, e := range []error{err, ferr} {
			var ve *VerifyError
			if e != nil && !errors.As(e, &ve) && !errors.Is(e, ErrKeySize) {
				t.Fatalf("error %T %v, want *VerifyError or ErrKeySize", e, e)
			}
		}
		if !torn && (err == nil) != (ferr == nil) {
			t.Fatalf("Verify = %v but the streaming verifier = %v", err, ferr)
		}
		if torn && ferr == nil {
			t.Fatal("the streaming verifier accepted a torn trail")
		}
	})
}
