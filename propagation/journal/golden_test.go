package journal_test

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent/propagation/journal"
)

var update = flag.Bool("update", false, "rewrite the journal written by version 1 under testdata/")

// Version-1 journals are committed under testdata/: a plaintext one and one
// encrypted with key id "golden" (key(9)), holding genEvent(7, 0..39).
// They are never rewritten by newer code (genEvent must stay as it is): they
// prove that segments on disk keep opening and decoding.
func TestVersion1Golden(t *testing.T) {
	enc := &journal.Options{Encryption: &journal.Encryption{KeyID: "golden", Keys: map[string][]byte{"golden": key(9)}}}
	for _, tc := range []struct {
		dir  string
		opts *journal.Options
	}{
		{"v1-plain", nil},
		{"v1-encrypted", enc},
	} {
		src := filepath.Join("testdata", tc.dir)
		if *update {
			require.NoError(t, os.RemoveAll(src))
			tmp := t.TempDir()
			j := open(t, tmp, tc.opts)
			appendN(t, j, 7, 40)
			require.NoError(t, j.Close(context.Background()))
			require.NoError(t, os.MkdirAll(src, 0o755))
			for _, p := range segments(t, tmp) {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(src, filepath.Base(p)), b, 0o644))
			}
		}
		require.NotEmpty(t, segments(t, src), tc.dir)
		j := open(t, copyDir(t, src), tc.opts)
		offs, evs, err := readAll(t, j, 0)
		require.NoError(t, err, tc.dir)
		require.Equal(t, 40, len(evs), tc.dir)
		checkEvents(t, 7, 0, 0, offs, evs)
		require.NoError(t, j.Close(context.Background()))
	}
}

var updateV2 = flag.Bool("update-v2", false, "rewrite the journals with record metadata under testdata/")

// Journals with record metadata (version-2 segments) are committed under
// testdata/ too: "v2-meta-plain" holds genEvent(7, 0..19) in a version-1
// segment (written with MetaSize 0) followed by genEvent(8, 0..19) in a
// version-2 segment written after a reopen with MetaSize 24;
// "v2-meta-encrypted" holds genEvent(7, 0..39) with MetaSize 24, encrypted
// with key id "golden". Record metadata is what appendMetaN gives. Like
// the version-1 journals they are never rewritten by newer code.
func TestVersion2MetaGolden(t *testing.T) {
	enc := func(meta int) *journal.Options {
		return &journal.Options{MetaSize: meta, Encryption: &journal.Encryption{KeyID: "golden", Keys: map[string][]byte{"golden": key(9)}}}
	}
	type part struct {
		stream uint64
		n      int
		opts   *journal.Options
	}
	for _, tc := range []struct {
		dir   string
		parts []part
	}{
		{"v2-meta-plain", []part{{7, 20, &journal.Options{}}, {8, 20, &journal.Options{MetaSize: 24}}}},
		{"v2-meta-encrypted", []part{{7, 40, enc(24)}}},
	} {
		src := filepath.Join("testdata", tc.dir)
		if *updateV2 {
			require.NoError(t, os.RemoveAll(src))
			tmp := t.TempDir()
			for _, p := range tc.parts {
				j := open(t, tmp, p.opts)
				fill(t, j, p.stream, p.n, p.opts.MetaSize)
				require.NoError(t, j.Close(context.Background()))
			}
			require.NoError(t, os.MkdirAll(src, 0o755))
			for _, p := range segments(t, tmp) {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(src, filepath.Base(p)), b, 0o644))
			}
		}
		require.Len(t, segments(t, src), len(tc.parts), tc.dir)
		// Opened with another MetaSize: each segment keeps its own.
		opts := tc.parts[0].opts
		j := open(t, copyDir(t, src), &journal.Options{MetaSize: 5, Encryption: opts.Encryption})
		offs, evs, metas, err := readAllMeta(t, j, 0)
		require.NoError(t, err, tc.dir)
		base := uint64(0)
		for _, p := range tc.parts {
			k := int(base)
			require.GreaterOrEqual(t, len(evs), k+p.n, tc.dir)
			checkEvents(t, p.stream, 0, base, offs[k:k+p.n], evs[k:k+p.n])
			checkMetas(t, wantMetas(p.stream, p.n, p.opts.MetaSize), metas[k:k+p.n])
			base += uint64(p.n)
		}
		require.Equal(t, int(base), len(evs), tc.dir)
		require.NoError(t, j.Close(context.Background()))
	}
}
