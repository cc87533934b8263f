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
