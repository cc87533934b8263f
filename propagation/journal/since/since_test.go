package since_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ev(k semevent.Kind, p string) *semevent.Event { return &semevent.Event{Kind: k, Path: p} }

func mv(from, to string) *semevent.Event {
	return &semevent.Event{Kind: semevent.KindFileRename, Path: to, OldPath: from}
}

func openJ(t *testing.T, dir string, o *journal.Options) *journal.Journal {
	t.Helper()
	j, err := journal.Open(dir, o)
	require.NoError(t, err)
	t.Cleanup(func() { j.Close(context.Background()) })
	return j
}

func query(t *testing.T, j *journal.Journal, cursor string, o *since.Options) *since.Result {
	t.Helper()
	res, err := since.Query(context.Background(), j, cursor, o)
	require.NoError(t, err)
	return res
}

// TestCoalesce checks the table of net changes for short histories.
func TestCoalesce(t *testing.T) {
	F, D := semevent.KindFileCreate, semevent.KindDirCreate
	W, X, R := semevent.KindFileWrite, semevent.KindFileDelete, semevent.KindDirDelete
	tests := []struct {
		name string
		evs  []*semevent.Event
		want []since.Change
	}{
		{"create+delete is nothing", []*semevent.Event{ev(F, "/d/f"), ev(W, "/d/f"), ev(X, "/d/f")}, nil},
		{"several writes are one modified", []*semevent.Event{ev(W, "/d/f"), ev(W, "/d/f"), ev(W, "/d/f")},
			[]since.Change{{Op: since.Modified, Path: "/d/f"}}},
		{"create+write is created", []*semevent.Event{ev(F, "/d/f"), ev(W, "/d/f")},
			[]since.Change{{Op: since.Created, Path: "/d/f"}}},
		{"write+delete is deleted", []*semevent.Event{ev(W, "/d/f"), ev(X, "/d/f")},
			[]since.Change{{Op: since.Deleted, Path: "/d/f"}}},
		// g was a rename's destination before any event named it: whether
		// something was there that the rename replaced, the journal cannot
		// tell, so its absence now is reported (erring towards a rescan).
		{"a rename and back", []*semevent.Event{mv("/d/f", "/d/g"), mv("/d/g", "/d/f")},
			[]since.Change{{Op: since.Deleted, Path: "/d/g"}}},
		{"a rename and back, g known new", []*semevent.Event{ev(F, "/d/g"), ev(X, "/d/g"), mv("/d/f", "/d/g"), mv("/d/g", "/d/f")}, nil},
		{"rename then write", []*semevent.Event{mv("/d/f", "/d/g"), ev(W, "/d/g")},
			[]since.Change{{Op: since.Deleted, Path: "/d/f"}, {Op: since.Renamed, Path: "/d/g", OldPath: "/d/f", Modified: true}}},
		{"an editor's save replaces the file", []*semevent.Event{ev(F, "/d/.f.swp"), ev(W, "/d/.f.swp"), mv("/d/.f.swp", "/d/f")},
			[]since.Change{{Op: since.Created, Path: "/d/f"}}},
		{"a swap through a temporary name", []*semevent.Event{mv("/d/a", "/d/t"), mv("/d/b", "/d/a"), mv("/d/t", "/d/b")},
			[]since.Change{{Op: since.Renamed, Path: "/d/a", OldPath: "/d/b"}, {Op: since.Renamed, Path: "/d/b", OldPath: "/d/a"}, {Op: since.Deleted, Path: "/d/t"}}},
		{"a directory's rename moves its children", []*semevent.Event{ev(W, "/d/x/f"), mv("/d/x", "/d/y"), ev(W, "/d/y/g"), mv("/d/y/h", "/d/h")},
			[]since.Change{
				{Op: since.Renamed, Path: "/d/h", OldPath: "/d/x/h"},
				{Op: since.Deleted, Path: "/d/x"},
				{Op: since.Renamed, Path: "/d/y", OldPath: "/d/x"},
				{Op: since.Modified, Path: "/d/y/f"},
				{Op: since.Modified, Path: "/d/y/g"},
				{Op: since.Deleted, Path: "/d/y/h"},
			}},
		{"rm -r lists the top only", []*semevent.Event{ev(X, "/d/x/f"), ev(X, "/d/x/g"), ev(R, "/d/x")},
			[]since.Change{{Op: since.Deleted, Path: "/d/x"}}},
		{"a new tree lists every path", []*semevent.Event{ev(D, "/d/n"), ev(F, "/d/n/f"), ev(W, "/d/n/f")},
			[]since.Change{{Op: since.Created, Path: "/d/n"}, {Op: since.Created, Path: "/d/n/f"}}},
		{"reads and opens change nothing", []*semevent.Event{ev(semevent.KindFileOpen, "/d/f"), ev(semevent.KindFileRead, "/d/f"), ev(semevent.KindFileClose, "/d/f")}, nil},
		{"another tenant's events are ignored", []*semevent.Event{{Kind: X, Path: "/d/f", Tenant: "acme"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := openJ(t, t.TempDir(), nil)
			c := since.Now(j, 0)
			_, err := j.AppendBatch(context.Background(), tt.evs)
			require.NoError(t, err)
			res := query(t, j, c, nil)
			require.Equal(t, since.NotFresh, res.Fresh)
			require.Equal(t, tt.want, res.Changes, "Query after %d events", len(tt.evs))
			require.Equal(t, len(tt.evs), res.Records)
			// The new cursor continues where this one stopped.
			again := query(t, j, res.Cursor, nil)
			require.Equal(t, since.NotFresh, again.Fresh)
			require.Empty(t, again.Changes)
			require.Equal(t, res.Cursor, again.Cursor)
		})
	}
}

// TestTenant checks that a query reads only its tenant's events.
func TestTenant(t *testing.T) {
	j := openJ(t, t.TempDir(), nil)
	c := since.Now(j, 0)
	_, err := j.AppendBatch(context.Background(), []*semevent.Event{
		{Kind: semevent.KindFileWrite, Path: "/d/f", Tenant: "acme"},
		{Kind: semevent.KindFileWrite, Path: "/d/g", Tenant: "globex"},
	})
	require.NoError(t, err)
	res := query(t, j, c, &since.Options{Tenant: "acme"})
	require.Equal(t, []since.Change{{Op: since.Modified, Path: "/d/f"}}, res.Changes)
}

// TestFresh checks every cursor a journal cannot answer from: each gets a
// fresh result with its reason and a usable cursor, never a partial list.
func TestFresh(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Small segments and a retention that keeps about two of them.
	o := &journal.Options{SegmentSize: 1024, RetentionBytes: 2048}
	j := openJ(t, dir, o)
	old := since.Now(j, 0)
	for i := range 300 {
		_, err := j.Append(ctx, ev(semevent.KindFileWrite, "/d/f"+string(rune('a'+i%26))))
		require.NoError(t, err)
	}
	require.Greater(t, j.FirstOffset(), uint64(0), "retention removed nothing; the test needs it to")
	other := openJ(t, t.TempDir(), nil)
	inst := j.Instance()

	tests := []struct {
		name   string
		cursor string
		opts   *since.Options
		want   since.FreshReason
	}{
		{"no cursor", "", nil, since.FreshNoCursor},
		{"older than retention", old, nil, since.FreshRetention},
		{"another instance", since.Now(other, 0), nil, since.FreshOtherInstance},
		{"another shard", since.Now(j, 3), nil, since.FreshOtherShard},
		{"past the end", since.Cursor{Instance: inst, Offset: j.NextOffset() + 5}.String(), nil, since.FreshAhead},
		{"too many paths", since.Cursor{Instance: inst, Offset: j.FirstOffset()}.String(), &since.Options{MaxPaths: 3}, since.FreshTooManyPaths},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := query(t, j, tt.cursor, tt.opts)
			require.Equal(t, tt.want, res.Fresh, "Fresh = %v", res.Fresh)
			require.Nil(t, res.Changes)
			c, err := since.ParseCursor(res.Cursor)
			require.NoError(t, err)
			require.Equal(t, since.Cursor{Instance: inst, Shard: c.Shard, Offset: j.NextOffset()}, c)
		})
	}
	// A recreated directory is another instance.
	cur := since.Now(j, 0)
	require.NoError(t, j.Close(context.Background()))
	require.NoError(t, os.RemoveAll(dir))
	j2 := openJ(t, dir, nil)
	require.Equal(t, since.FreshOtherInstance, query(t, j2, cur, nil).Fresh)
}

// TestBadInput checks that a malformed cursor or glob is a typed error.
func TestBadInput(t *testing.T) {
	j := openJ(t, t.TempDir(), nil)
	good := since.Now(j, 0)
	for _, c := range []string{"x", "c1.", "c1.!!!", good[:len(good)-2], good + "A", "c1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		_, err := since.Query(context.Background(), j, c, nil)
		var ce *since.CursorError
		require.ErrorAs(t, err, &ce, "Query(%q)", c)
		require.ErrorIs(t, err, since.ErrBadCursor)
	}
	for _, g := range []string{"/a/[", "/a/**b", `/a\`, "/a/[]"} {
		_, err := since.Query(context.Background(), j, good, &since.Options{Glob: g})
		var oe *semevent.OptionsError
		require.ErrorAs(t, err, &oe, "Query with Glob %q", g)
		require.ErrorIs(t, err, semevent.ErrInvalidOptions)
		require.Contains(t, err.Error(), "Glob")
	}
}

// TestCorruptIsAnError checks that a corrupt record fails the query with
// the journal's *CorruptError instead of answering from what precedes it.
func TestCorruptIsAnError(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	j, err := journal.Open(dir, nil)
	require.NoError(t, err)
	cur := since.Now(j, 0)
	for range 10 {
		_, err := j.Append(ctx, ev(semevent.KindFileWrite, "/d/f"))
		require.NoError(t, err)
	}
	require.NoError(t, j.Close(context.Background()))
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	j = openJ(t, dir, nil) // a second segment, so the first is not the tail
	_, err = j.Append(ctx, ev(semevent.KindFileWrite, "/d/g"))
	require.NoError(t, err)
	data, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	data[len(data)-3] ^= 0xff // inside the last record's body
	require.NoError(t, os.WriteFile(segs[0], data, 0o644))
	_, err = since.Query(ctx, j, cur, nil)
	var ce *journal.CorruptError
	require.ErrorAs(t, err, &ce)
}

// TestCursorRoundTrip checks String and ParseCursor on extreme values.
func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []since.Cursor{{}, {Instance: [16]byte{1, 2, 3}, Shard: 1<<64 - 1, Offset: 1<<64 - 1}, {Shard: 7, Offset: 1 << 40}} {
		got, err := since.ParseCursor(c.String())
		require.NoError(t, err)
		require.Equal(t, c, got, "ParseCursor(%q)", c.String())
	}
}
