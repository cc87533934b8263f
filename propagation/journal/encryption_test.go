package journal_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/propagation/journal"
)

func encOpts(id string, keys ...string) *journal.Options {
	e := &journal.Encryption{KeyID: id, Keys: map[string][]byte{}}
	for _, k := range keys {
		e.Keys[k] = key(k[len(k)-1])
	}
	return &journal.Options{Encryption: e, SegmentSize: 4096}
}

func TestEncryptedNoPlaintextOnDisk(t *testing.T) {
	marker := []byte("TOP-SECRET-PAYLOAD")
	for _, encrypted := range []bool{false, true} {
		dir := t.TempDir()
		var opts *journal.Options
		if encrypted {
			opts = encOpts("k1", "k1")
		}
		j := open(t, dir, opts)
		for i := range 100 {
			ev := genEvent(5, uint64(i))
			ev.Data = bytes.Repeat(marker, 4)
			ev.Path = "/secret-path/file"
			_, err := j.Append(t.Context(), ev)
			require.NoError(t, err)
		}
		require.NoError(t, j.Close(context.Background()))
		found := 0
		for _, p := range segments(t, dir) {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			for _, needle := range [][]byte{marker[:8], []byte("secret-path"), []byte("tenant-5-")} {
				found += bytes.Count(b, needle)
			}
		}
		if encrypted {
			require.Zero(t, found, "plaintext found in encrypted segments")
		} else {
			require.Greater(t, found, 100, "the scan finds plaintext when unencrypted")
		}
	}
}

func TestEncryptionKeyErrors(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, encOpts("k1", "k1"))
	appendN(t, j, 1, 20)
	require.NoError(t, j.Close(context.Background()))
	seg := filepath.Base(segments(t, dir)[0])

	for _, tc := range []struct {
		name  string
		opts  *journal.Options
		want  error
		keyID string
	}{
		{"wrong key", &journal.Options{Encryption: &journal.Encryption{KeyID: "k1", Keys: map[string][]byte{"k1": key(7)}}}, journal.ErrWrongKey, "k1"},
		{"missing key id", encOpts("k2", "k2"), journal.ErrMissingKey, "k1"},
		{"no encryption", nil, journal.ErrMissingKey, "k1"},
	} {
		_, err := journal.Open(dir, tc.opts)
		var ke *journal.KeyError
		require.ErrorAs(t, err, &ke, tc.name)
		require.ErrorIs(t, err, tc.want, tc.name)
		require.Equal(t, tc.keyID, ke.KeyID, tc.name)
		require.Equal(t, seg, ke.Segment, tc.name)
	}
}

func TestEncryptionKeyRotation(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, encOpts("k1", "k1"))
	appendN(t, j, 1, 40)
	require.NoError(t, j.Close(context.Background()))
	j = open(t, dir, encOpts("k2", "k1", "k2"))
	appendN(t, j, 2, 40)
	require.NoError(t, j.Close(context.Background()))

	ids := map[string]int{}
	for _, p := range segments(t, dir) {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		ids[string(b[25:25+int(b[24])])]++
	}
	require.Greater(t, ids["k1"], 0)
	require.Greater(t, ids["k2"], 0)

	j = open(t, dir, encOpts("k2", "k1", "k2"))
	offs, evs, err := readAll(t, j, 0)
	require.NoError(t, err)
	require.Equal(t, 80, len(evs))
	checkEvents(t, 1, 0, 0, offs[:40], evs[:40])
	checkEvents(t, 2, 0, 40, offs[40:], evs[40:])
	require.NoError(t, j.Close(context.Background()))

	// Old key dropped while its segments are retained: a clear error.
	_, err = journal.Open(dir, encOpts("k2", "k2"))
	require.ErrorIs(t, err, journal.ErrMissingKey)
	require.True(t, strings.Contains(err.Error(), `"k1"`), err.Error())
}

// TestEncryptedTamperDetected changes ciphertext and fixes up the CRC, as
// an attacker would: GCM authentication catches it.
func TestEncryptedTamperDetected(t *testing.T) {
	dir := t.TempDir()
	j := open(t, dir, encOpts("k1", "k1"))
	appendN(t, j, 1, 60)
	require.NoError(t, j.Close(context.Background()))
	rs := records(t, dir)
	victim := rs[3]
	b, err := os.ReadFile(victim.file)
	require.NoError(t, err)
	b[victim.start+16+5] ^= 1
	fixCRC(b, victim)
	require.NoError(t, os.WriteFile(victim.file, b, 0o644))
	j = open(t, dir, encOpts("k1", "k1"))
	defer j.Close(context.Background())
	_, evs, err := readAll(t, j, 0)
	ce := requireCorrupt(t, err)
	require.Equal(t, victim.off, ce.Offset)
	require.Contains(t, ce.Reason, "authentication")
	require.Equal(t, int(victim.off), len(evs))
}
