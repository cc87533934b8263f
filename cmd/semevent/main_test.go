package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access/audit"
	"github.com/vexfs/semevent/coord/coordadmin"
	"github.com/vexfs/semevent/coord/raft"
	"github.com/vexfs/semevent/propagation/journal"
	"github.com/vexfs/semevent/propagation/journal/since"
)

// bin is the semevent binary, built once by TestMain with go build.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "semevent-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "semevent")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		// Raft nodes and watch helpers started by the tests must be gone.
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// run executes the binary and returns its output and exit status.
func run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

// fails checks that a command failed with one line on stderr that
// contains every want, with no stack trace, and the given exit status.
func fails(t *testing.T, r result, code int, want ...string) {
	t.Helper()
	require.Equal(t, code, r.code, "exit status; stderr %q", r.stderr)
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	var errs []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "semevent: note:") {
			errs = append(errs, l)
		}
	}
	require.Len(t, errs, 1, "stderr must be one error line: %q", r.stderr)
	require.True(t, strings.HasPrefix(errs[0], "semevent: "), "stderr %q", r.stderr)
	require.NotContains(t, r.stderr, "goroutine ")
	require.NotContains(t, r.stderr, "panic")
	for _, w := range want {
		require.Contains(t, errs[0], w)
	}
}

func ok(t *testing.T, r result) result {
	t.Helper()
	require.Equal(t, 0, r.code, "exit status; stderr %q", r.stderr)
	return r
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{}, {"journal"}, {"journal", "stat"}, {"journal", "dump"}, {"journal", "tail"}, {"journal", "verify"},
		{"audit"}, {"audit", "verify"}, {"watch"}, {"since"}, {"cluster"}, {"cluster", "status"},
	} {
		r := ok(t, run(t, append(args, "--help")...))
		require.Contains(t, r.stdout, "Usage:", "semevent %v --help", args)
	}
	fails(t, run(t, "nosuch"), 2, "unknown command")
	fails(t, run(t, "journal", "stat"), 2, "arg")
	fails(t, run(t, "journal", "stat", "--nosuch", "x"), 2, "nosuch")
}

// makeJournal writes n events into a new journal in dir, in two opens,
// with 120-byte payloads into 1 KiB segments so that there are several,
// and consumer "indexer" committed at 3. It returns the segments.
func makeJournal(t *testing.T, dir string, n int, opts *journal.Options) []journal.SegmentInfo {
	t.Helper()
	ctx := context.Background()
	if opts == nil {
		opts = &journal.Options{}
	}
	opts.SegmentSize = 1024
	var segs []journal.SegmentInfo
	for half := range 2 {
		j, err := journal.Open(dir, opts)
		require.NoError(t, err)
		for i := range n / 2 {
			_, err := j.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/data/f%d", half*(n/2)+i), Size: 10, Time: 1_700_000_000_000_000_000, Data: bytes.Repeat([]byte{'x'}, 120)})
			require.NoError(t, err)
		}
		if half == 0 {
			require.NoError(t, j.CommitOffset("indexer", uint64(min(3, n/2))))
		}
		segs = j.Segments()
		require.NoError(t, j.Close(context.Background()))
	}
	return segs
}

func TestJournal(t *testing.T) {
	dir := t.TempDir()
	segs := makeJournal(t, dir, 10, nil)
	require.Greater(t, len(segs), 1)

	var st struct {
		Instance  string `json:"instance"`
		First     uint64 `json:"first_offset"`
		Next      uint64 `json:"next_offset"`
		Segments  []struct{ Name string }
		Consumers []struct {
			Name           string
			Committed, Lag uint64
		}
	}
	r := ok(t, run(t, "journal", "stat", "--json", dir))
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
	require.Equal(t, uint64(0), st.First)
	require.Equal(t, uint64(10), st.Next)
	require.Len(t, st.Segments, len(segs))
	require.Equal(t, segs[0].Name, st.Segments[0].Name)
	require.Len(t, st.Consumers, 1)
	require.Equal(t, "indexer", st.Consumers[0].Name)
	require.Equal(t, uint64(3), st.Consumers[0].Committed)
	require.Equal(t, uint64(7), st.Consumers[0].Lag)
	require.Len(t, st.Instance, 32)

	r = ok(t, run(t, "journal", "stat", dir))
	require.Contains(t, r.stdout, "offsets   0..10 (10 records)")
	require.Contains(t, r.stdout, "indexer  committed 3  lag 7")

	r = ok(t, run(t, "journal", "dump", "--json", dir))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 10)
	for i, l := range lines {
		var ev struct {
			Offset uint64
			Kind   string
			Path   string
		}
		require.NoError(t, json.Unmarshal([]byte(l), &ev), l)
		require.Equal(t, uint64(i), ev.Offset)
		require.Equal(t, "write", ev.Kind)
		require.Equal(t, fmt.Sprintf("/data/f%d", i), ev.Path)
	}
	r = ok(t, run(t, "journal", "dump", "--from", "4", "--limit", "2", dir))
	require.Equal(t, "4\t2023-11-14T22:13:20Z\tuserspace\twrite\t/data/f4\n5\t2023-11-14T22:13:20Z\tuserspace\twrite\t/data/f5\n", r.stdout)

	r = ok(t, run(t, "journal", "tail", "-n", "3", "--json", dir))
	require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 3)
	require.True(t, strings.HasPrefix(r.stdout, `{"offset":7,`), r.stdout)

	r = ok(t, run(t, "journal", "verify", dir))
	require.Equal(t, fmt.Sprintf("ok: 10 records in %d segments\n", len(segs)), r.stdout)
}

// TestJournalMeta: dump, tail and stat show record metadata when the
// journal has it: a v1 segment (no meta column), then a segment with
// 4-byte meta.
func TestJournalMeta(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ev := func(p string) *semevent.Event {
		return &semevent.Event{Kind: semevent.KindFileWrite, Path: p, Time: 1_700_000_000_000_000_000}
	}
	j, err := journal.Open(dir, nil)
	require.NoError(t, err)
	_, err = j.Append(ctx, ev("/a"))
	require.NoError(t, err)
	require.NoError(t, j.Close(ctx))
	j, err = journal.Open(dir, &journal.Options{MetaSize: 4})
	require.NoError(t, err)
	_, err = j.AppendBatchMeta(ctx, []*semevent.Event{ev("/b"), ev("/c")}, []byte{0xde, 0xad, 0xbe, 0xef})
	require.NoError(t, err)
	_, err = j.Append(ctx, ev("/d"))
	require.NoError(t, err)
	require.NoError(t, j.Close(ctx))

	r := ok(t, run(t, "journal", "dump", dir))
	require.Equal(t, "0\t2023-11-14T22:13:20Z\tuserspace\twrite\t/a\n"+
		"1\t2023-11-14T22:13:20Z\tuserspace\twrite\t/b\tmeta=deadbeef\n"+
		"2\t2023-11-14T22:13:20Z\tuserspace\twrite\t/c\tmeta=deadbeef\n"+
		"3\t2023-11-14T22:13:20Z\tuserspace\twrite\t/d\tmeta=00000000\n", r.stdout)
	r = ok(t, run(t, "journal", "tail", "-n", "4", "--json", dir))
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 4)
	for i, want := range []string{"", "deadbeef", "deadbeef", "00000000"} {
		var got struct {
			Meta *string `json:"meta_hex"`
		}
		require.NoError(t, json.Unmarshal([]byte(lines[i]), &got), lines[i])
		if want == "" {
			require.Nil(t, got.Meta, lines[i])
		} else {
			require.NotNil(t, got.Meta, lines[i])
			require.Equal(t, want, *got.Meta)
		}
	}
	r = ok(t, run(t, "journal", "stat", dir))
	require.Contains(t, r.stdout, " meta=4B\n")
	require.Equal(t, 1, strings.Count(r.stdout, "meta="), r.stdout)
}

func TestJournalBadInput(t *testing.T) {
	t.Run("no such directory", func(t *testing.T) {
		fails(t, run(t, "journal", "stat", "/nonexistent/j"), 1, "/nonexistent/j", "no such directory")
	})
	t.Run("not a journal", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o644))
		for _, c := range []string{"stat", "dump", "tail", "verify"} {
			fails(t, run(t, "journal", c, dir), 1, dir, "not a journal")
		}
		_, err := os.Stat(filepath.Join(dir, "INSTANCE"))
		require.ErrorIs(t, err, os.ErrNotExist, "the command turned the directory into a journal")
	})
	t.Run("a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "f")
		require.NoError(t, os.WriteFile(f, nil, 0o644))
		fails(t, run(t, "journal", "verify", f), 1, f, "not a directory")
	})
	// The first of several segments: damage in it is corruption, not a
	// torn tail. last is the offset of its last record.
	damage := func(t *testing.T, fn func(data []byte) []byte) (dir, seg string, last uint64) {
		dir = t.TempDir()
		segs := makeJournal(t, dir, 10, nil)
		require.Greater(t, len(segs), 1)
		path := filepath.Join(dir, segs[0].Name)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, fn(data), 0o644))
		return dir, segs[0].Name, segs[0].End - 1
	}
	t.Run("corrupt segment", func(t *testing.T) {
		dir, seg, last := damage(t, func(b []byte) []byte { b[len(b)-5] ^= 0x40; return b })
		r := run(t, "journal", "verify", dir)
		fails(t, r, 1, dir, seg, fmt.Sprintf("corrupt record at offset %d", last), "byte ")
		r = run(t, "journal", "verify", "--json", dir)
		require.Equal(t, 1, r.code)
		var v struct {
			OK      bool
			Segment string
			Offset  *uint64
			Pos     *int64
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &v), r.stdout)
		require.False(t, v.OK)
		require.Equal(t, filepath.Join(dir, seg), v.Segment)
		require.Equal(t, last, *v.Offset)
		require.Positive(t, *v.Pos)
		// dump stops at the same record with the same error.
		r = run(t, "journal", "dump", dir)
		fails(t, r, 1, seg, fmt.Sprintf("offset %d", last))
		require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), int(last), "dump prints the records before the corrupt one")
	})
	t.Run("truncated segment", func(t *testing.T) {
		dir, seg, _ := damage(t, func(b []byte) []byte { return b[:len(b)-7] })
		fails(t, run(t, "journal", "verify", dir), 1, dir, seg, "corrupt record at offset", "byte ")
	})
	t.Run("torn tail of the last segment", func(t *testing.T) {
		// A crash's torn write: recovery cuts it, and the commands say so.
		dir := t.TempDir()
		segs := makeJournal(t, dir, 10, nil)
		last := filepath.Join(dir, segs[len(segs)-1].Name)
		data, err := os.ReadFile(last)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(last, data[:len(data)-7], 0o644))
		r := ok(t, run(t, "journal", "verify", dir))
		require.True(t, strings.HasPrefix(r.stderr, "semevent: note: journal: torn tail of segment "+segs[len(segs)-1].Name+" cut at byte "), r.stderr)
		require.True(t, strings.HasSuffix(r.stderr, "; next offset 9\n"), r.stderr)
		require.Equal(t, 1, strings.Count(r.stderr, "\n"))
		require.Equal(t, fmt.Sprintf("ok: 9 records in %d segments\n", len(segs)), r.stdout)
	})
	t.Run("encrypted", func(t *testing.T) {
		dir := t.TempDir()
		key := bytes.Repeat([]byte{7}, 32)
		makeJournal(t, dir, 4, &journal.Options{Encryption: &journal.Encryption{KeyID: "k1", Keys: map[string][]byte{"k1": key}}})
		good := filepath.Join(t.TempDir(), "keys")
		require.NoError(t, os.WriteFile(good, []byte("k1 "+hex.EncodeToString(key)+"\n"), 0o600))
		r := ok(t, run(t, "journal", "dump", "--key-file", good, dir))
		require.Len(t, strings.Split(strings.TrimSpace(r.stdout), "\n"), 4)
		ok(t, run(t, "journal", "verify", "--key-file", good, dir))

		fails(t, run(t, "journal", "dump", dir), 1, dir, "missing encryption key", "--key-file")
		wrong := filepath.Join(t.TempDir(), "keys")
		require.NoError(t, os.WriteFile(wrong, []byte("k1 "+hex.EncodeToString(bytes.Repeat([]byte{8}, 32))+"\n"), 0o600))
		fails(t, run(t, "journal", "verify", "--key-file", wrong, dir), 1, dir, "wrong encryption key")
		bad := filepath.Join(t.TempDir(), "keys")
		require.NoError(t, os.WriteFile(bad, []byte("k1 abc\n"), 0o600))
		fails(t, run(t, "journal", "stat", "--key-file", bad, dir), 1, bad, "line 1")
	})
	t.Run("in use", func(t *testing.T) {
		dir := t.TempDir()
		j, err := journal.Open(dir, nil)
		require.NoError(t, err)
		defer j.Close(context.Background())
		fails(t, run(t, "journal", "stat", dir), 1, dir, "open in another process")
	})
}

func TestAuditVerify(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.log")
	store, err := audit.OpenFile(file)
	require.NoError(t, err)
	log, err := audit.New(store, &audit.Options{Key: priv, CheckpointEvery: 4})
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, log.Append(audit.Record{Kind: audit.Decision, User: "alice", Op: "publish", Path: fmt.Sprintf("/data/%d", i)}))
	}
	require.NoError(t, log.Close(context.Background()))
	head := log.Head()
	anchor := fmt.Sprintf("%d:%s", head.Seq, hex.EncodeToString(head.Hash[:]))
	keyFile := filepath.Join(dir, "pub")
	require.NoError(t, os.WriteFile(keyFile, []byte(hex.EncodeToString(pub)+"\n"), 0o600))

	r := ok(t, run(t, "audit", "verify", "--key-file", keyFile, "--anchor", anchor, "--trail", log.Trail().String(), file))
	require.Contains(t, r.stdout, "ok: trail "+log.Trail().String())
	var rep struct {
		OK      bool
		Records int
		Head    string
	}
	r = ok(t, run(t, "audit", "verify", "--json", "--key-file", keyFile, file))
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	require.True(t, rep.OK)
	require.Equal(t, anchor, rep.Head)

	// Tampered: flip a byte in the middle.
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	data[len(data)/2] ^= 1
	bad := filepath.Join(dir, "tampered.log")
	require.NoError(t, os.WriteFile(bad, data, 0o600))
	fails(t, run(t, "audit", "verify", "--key-file", keyFile, bad), 1, bad, "trail broken at record", "byte")
	// Cut back: the anchor is gone.
	fails(t, run(t, "audit", "verify", "--key-file", keyFile, "--anchor", fmt.Sprintf("%d:%s", head.Seq+5, hex.EncodeToString(head.Hash[:])), file), 1, file)
	// Bad arguments.
	fails(t, run(t, "audit", "verify", "--key-file", keyFile, "--anchor", "12", file), 2, "--anchor")
	fails(t, run(t, "audit", "verify", file), 2, "--key-file")
	fails(t, run(t, "audit", "verify", "--key-file", file, file), 1, "public key file")
	fails(t, run(t, "audit", "verify", "--key-file", keyFile, filepath.Join(dir, "nope")), 1, "nope")
}

func TestSince(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	makeJournal(t, dir, 4, nil)
	var first struct {
		Fresh  string
		Cursor string
	}
	r := ok(t, run(t, "since", "", "--journal", dir, "--json"))
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &first), r.stdout)
	require.Equal(t, "no cursor", first.Fresh)

	j, err := journal.Open(dir, nil)
	require.NoError(t, err)
	_, err = j.AppendBatch(ctx, []*semevent.Event{
		{Kind: semevent.KindFileCreate, Path: "/data/new.txt"},
		{Kind: semevent.KindFileWrite, Path: "/data/f1"},
		{Kind: semevent.KindFileRename, OldPath: "/data/old", Path: "/data/moved"},
		{Kind: semevent.KindFileWrite, Path: "/other/x"},
	})
	require.NoError(t, err)
	require.NoError(t, j.Close(context.Background()))

	var res struct {
		Fresh   string
		Cursor  string
		Changes []struct {
			Op      string `json:"op"`
			Path    string `json:"path"`
			OldPath string `json:"old_path"`
		}
	}
	r = ok(t, run(t, "since", first.Cursor, "/data/**", "--journal", dir, "--json"))
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
	require.Empty(t, res.Fresh)
	require.Contains(t, r.stdout, `"op": "renamed"`)
	require.Contains(t, r.stdout, `"old_path": "/data/old"`)
	require.NotContains(t, r.stdout, "/other/x")
	r = ok(t, run(t, "since", first.Cursor, "/data/**", "--journal", dir))
	require.Equal(t, "modified\t/data/f1\nrenamed\t/data/old -> /data/moved\ncreated\t/data/new.txt\ndeleted\t/data/old\ncursor "+res.Cursor+"\n", r.stdout)
	// Nothing new since the returned cursor.
	r = ok(t, run(t, "since", res.Cursor, "--journal", dir))
	require.Equal(t, "cursor "+res.Cursor+"\n", r.stdout)

	// A cursor from another journal: fresh, not an error.
	other := t.TempDir()
	makeJournal(t, other, 2, nil)
	r = ok(t, run(t, "since", res.Cursor, "--journal", other))
	require.True(t, strings.HasPrefix(r.stdout, "fresh: cursor from another journal instance (rescan)\n"), r.stdout)

	fails(t, run(t, "since", "c1.garbage", "--journal", dir), 1, "CURSOR argument", "malformed cursor")
	fails(t, run(t, "since", "yesterday", "--journal", dir), 1, "CURSOR argument", `"yesterday"`)
	fails(t, run(t, "since", res.Cursor, "/data/[", "--journal", dir), 2, "GLOB argument", `"/data/["`, "byte")
	fails(t, run(t, "since", res.Cursor), 2, "--journal")
	fails(t, run(t, "since", res.Cursor, "--journal", t.TempDir()), 1, "not a journal")
}

// watch runs the binary with args (a watch with --count), waits until it
// watches, runs act, and returns its output once it exits.
func watch(t *testing.T, act func(), args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	errPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	var out bytes.Buffer
	cmd.Stdout = &out
	require.NoError(t, cmd.Start())
	var errs strings.Builder
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(errPipe)
		for sc.Scan() {
			errs.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "watching") {
				act()
			}
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		require.NoError(t, err, "watch exited with an error: %s", errs.String())
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("watch %v did not exit; stderr %s", args, errs.String())
	}
	return out.String(), errs.String()
}

type watched struct {
	Offset   *uint64
	Kind     string
	Path     string
	Boundary string
}

func parseEvents(t *testing.T, out string) []watched {
	t.Helper()
	var evs []watched
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev watched
		require.NoError(t, json.Unmarshal([]byte(l), &ev), l)
		evs = append(evs, ev)
	}
	return evs
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	out, _ := watch(t, func() {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte("x"), 0o644))
		require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	}, "watch", dir, "--json", "--kinds", "create,mkdir", "--count", "2")
	evs := parseEvents(t, out)
	require.Len(t, evs, 2, out)
	require.Equal(t, watched{Kind: "create", Path: "/a.txt", Boundary: "kernel"}, evs[0])
	require.Equal(t, watched{Kind: "mkdir", Path: "/sub", Boundary: "kernel"}, evs[1])

	fails(t, run(t, "watch", "/nonexistent/dir"), 1, "/nonexistent/dir")
	fails(t, run(t, "watch", "--kinds", "write,bogus", dir), 2, "--kinds", "bogus")
	fails(t, run(t, "watch", "--kinds", "vector_insert", dir), 1, "Kinds")
	fails(t, run(t, "watch", "--mode", "x", dir), 2, "--mode")
}

// TestWatchJournal checks watch --journal and --since-cursor: events are
// journaled with their offsets, a later watch replays them from a cursor
// and goes on live.
func TestWatchJournal(t *testing.T) {
	dir, jdir := t.TempDir(), filepath.Join(t.TempDir(), "j")
	out, errs := watch(t, func() {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), nil, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "b.txt"), nil, 0o644))
	}, "watch", dir, "--json", "--kinds", "create", "--count", "2", "--journal", jdir)
	evs := parseEvents(t, out)
	require.Len(t, evs, 2, out)
	for i, ev := range evs {
		require.NotNil(t, ev.Offset)
		require.Equal(t, uint64(i), *ev.Offset)
	}
	_, end, ok := strings.Cut(errs, "semevent: cursor ")
	require.True(t, ok, "no cursor on stderr: %s", errs)
	end = strings.TrimSpace(end)

	j, err := journal.Open(jdir, nil)
	require.NoError(t, err)
	start := since.Cursor{Instance: j.Instance()}.String()
	require.NoError(t, j.Close(context.Background()))

	// Replay both from the start, no live event needed.
	out, _ = watch(t, func() {}, "watch", dir, "--json", "--count", "2", "--journal", jdir, "--since-cursor", start)
	replayed := parseEvents(t, out)
	require.Equal(t, evs, replayed)

	// From the end: the next event is live, with the next offset.
	out, _ = watch(t, func() {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "c.txt"), nil, 0o644))
	}, "watch", dir, "--json", "--kinds", "create", "--count", "1", "--journal", jdir, "--since-cursor", end)
	live := parseEvents(t, out)
	require.Len(t, live, 1)
	require.Equal(t, "/c.txt", live[0].Path)
	require.Equal(t, uint64(2), *live[0].Offset)

	other := t.TempDir()
	makeJournal(t, other, 2, nil)
	fails(t, run(t, "watch", dir, "--journal", other, "--since-cursor", end), 1, "another journal instance", "rescan")
	fails(t, run(t, "watch", dir, "--journal", jdir, "--since-cursor", "c1.nope"), 1, "--since-cursor", "malformed cursor")
	fails(t, run(t, "watch", dir, "--since-cursor", end), 2, "--journal")
}

// TestClusterStatus reads a real one-node Raft coordinator's admin
// endpoint, served in this process, from the binary.
// TestClusterStatusObservers: a node's status that lists a shard's
// observers (non-voting replicas) shows them in their own column and in
// the JSON.
func TestClusterStatusObservers(t *testing.T) {
	st := coordadmin.Status{Node: 1, Healthy: true, Time: time.Now().UTC(), Peers: []coordadmin.Peer{}, Members: []coordadmin.Member{{ID: 1, Addr: "127.0.0.1:1"}},
		Shards: []coordadmin.Shard{{Shard: 0, Leader: 1, Term: 2, Applied: 7, Members: 3, Observers: []uint64{4, 5}}, {Shard: 1, Leader: 2, Term: 2, Applied: 3, Members: 3}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(st)
	}))
	defer srv.Close()
	r := ok(t, run(t, "cluster", "status", "--addr", srv.URL))
	require.Contains(t, r.stdout, "members\tobservers")
	require.Contains(t, r.stdout, "  0\t1\t2\t7\t0\t3\t4 5\n")
	require.Contains(t, r.stdout, "  1\t2\t2\t3\t0\t3\t-\n")
	r = ok(t, run(t, "cluster", "status", "--json", "--addr", srv.URL))
	var out struct {
		Nodes []struct{ Status coordadmin.Status }
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Equal(t, []uint64{4, 5}, out.Nodes[0].Status.Shards[0].Observers)
	require.Nil(t, out.Nodes[0].Status.Shards[1].Observers)
}

func TestClusterStatus(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	c, err := raft.New(&raft.Options{Node: 1, Dir: t.TempDir(), Members: map[uint64]string{1: addr}})
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Append(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"})
	require.NoError(t, err)
	srv := httptest.NewServer(coordadmin.Handler(c))
	defer srv.Close()

	var out struct {
		Nodes []struct {
			URL    string
			Status coordadmin.Status
			Lag    []uint64
		}
	}
	r := ok(t, run(t, "cluster", "status", "--json", "--addr", srv.URL))
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Len(t, out.Nodes, 1)
	n := out.Nodes[0]
	require.Equal(t, uint64(1), n.Status.Node)
	require.True(t, n.Status.Healthy)
	require.Equal(t, uint64(1), n.Status.Shards[0].Leader)
	require.Equal(t, uint64(1), n.Status.Shards[0].Applied)
	require.Equal(t, []uint64{0}, n.Lag)
	require.Equal(t, []coordadmin.Member{{ID: 1, Addr: addr}}, n.Status.Members)

	r = ok(t, run(t, "cluster", "status", "--addr", strings.TrimPrefix(srv.URL, "http://")))
	require.Contains(t, r.stdout, "node 1 at "+srv.URL+": healthy")
	require.Contains(t, r.stdout, "  0\t1\t")
	require.Contains(t, r.stdout, "member 1 "+addr)

	// A node that does not answer, and an endpoint that is not one.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	down := "http://" + l.Addr().String() + "/status"
	l.Close()
	r = run(t, "cluster", "status", "--addr", srv.URL, "--addr", down, "--timeout", "2s")
	fails(t, r, 1, down, "unreachable")
	require.Contains(t, r.stdout, "node 1 at "+srv.URL, "the node that answered is still shown")
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	defer html.Close()
	fails(t, run(t, "cluster", "status", "--addr", html.URL), 1, html.URL, "not a status")
	fails(t, run(t, "cluster", "status"), 2, "--addr")
}
