package fusebridge_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
)

// fsOps is what a workload does. realFS does it on disk; truthFS records
// the semantic operations each step must produce: the ground truth.
type fsOps interface {
	mkdir(p string) error
	write(p string, chunks ...[]byte) error // create or truncate, write each chunk, close
	rename(from, to string) error
	remove(p string) error
	rmdir(p string) error
}

type realFS struct{ root string }

func (r realFS) abs(p string) string  { return filepath.Join(r.root, p) }
func (r realFS) mkdir(p string) error { return os.Mkdir(r.abs(p), 0o755) }
func (r realFS) write(p string, chunks ...[]byte) error {
	f, err := os.OpenFile(r.abs(p), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
func (r realFS) rename(a, b string) error { return os.Rename(r.abs(a), r.abs(b)) }
func (r realFS) remove(p string) error    { return os.Remove(r.abs(p)) }
func (r realFS) rmdir(p string) error     { return os.Remove(r.abs(p)) }

// truthFS derives the expected events. It is safe for concurrent use.
type truthFS struct {
	mu     sync.Mutex
	ops    []op
	exists map[string]bool
}

func newTruth() *truthFS { return &truthFS{exists: map[string]bool{}} }

func (t *truthFS) add(o op) { t.ops = append(t.ops, o) }
func (t *truthFS) mkdir(p string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(op{semevent.KindDirCreate, "/" + p, ""})
	return nil
}
func (t *truthFS) write(p string, chunks ...[]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	existed := t.exists[p]
	if !existed {
		t.add(op{semevent.KindFileCreate, "/" + p, ""})
		t.exists[p] = true
	}
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	// A new file changes only if written; an existing one is truncated.
	if n > 0 || existed {
		t.add(op{semevent.KindFileWrite, "/" + p, ""})
	}
	return nil
}
func (t *truthFS) rename(a, b string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(op{semevent.KindFileRename, "/" + b, "/" + a})
	for k := range t.exists {
		if k == a || strings.HasPrefix(k, a+"/") {
			delete(t.exists, k)
			t.exists[b+k[len(a):]] = true
		}
	}
	return nil
}
func (t *truthFS) remove(p string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(op{semevent.KindFileDelete, "/" + p, ""})
	delete(t.exists, p)
	return nil
}
func (t *truthFS) rmdir(p string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(op{semevent.KindDirDelete, "/" + p, ""})
	return nil
}

func chunk(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }

// workloads run in a child process against the mount, and in the test
// against truthFS.
var workloads = map[string]func(fsOps) error{
	"tree":    treeWorkload,
	"writers": writersWorkload,
}

// treeWorkload creates a tree, writes, rewrites, renames files and a
// directory, deletes files and a directory.
func treeWorkload(f fsOps) error {
	var err error
	do := func(e error) {
		if err == nil {
			err = e
		}
	}
	for d := range 3 {
		dir := fmt.Sprintf("d%d", d)
		do(f.mkdir(dir))
		do(f.mkdir(dir + "/sub"))
		for i := range 5 {
			do(f.write(fmt.Sprintf("%s/f%d", dir, i), chunk(1000+i, 'a'), chunk(4096, 'b')))
			do(f.write(fmt.Sprintf("%s/sub/g%d", dir, i), chunk(10, 'c')))
		}
		do(f.write(dir + "/empty"))
	}
	do(f.write("d0/f0", chunk(5, 'z')))       // rewrite: truncate + write
	do(f.write("d0/f1"))                      // rewrite to empty
	do(f.rename("d0/f2", "d1/moved"))         // across directories
	do(f.rename("d1/f3", "d1/f3.renamed"))    // in place
	do(f.rename("d2", "d2r"))                 // a directory
	do(f.write("d2r/after", chunk(300, 'x'))) // in the renamed directory
	do(f.write("d2r/sub/g0", chunk(7, 'y')))  // beneath it
	for i := range 5 {
		do(f.remove(fmt.Sprintf("d1/sub/g%d", i)))
	}
	do(f.rmdir("d1/sub"))
	do(f.remove("d0/f4"))
	return err
}

// writersWorkload has four goroutines each write 25 files of three 4 KiB
// writes in its own directory, concurrently.
func writersWorkload(f fsOps) error {
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		if err := f.mkdir(fmt.Sprintf("w%d", w)); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if err := f.write(fmt.Sprintf("w%d/file%02d", w, i), chunk(4096, 'a'), chunk(4096, 'b'), chunk(4096, 'c')); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// runWorkload runs workload name in a child process against the mount and
// returns the child's pid.
func runWorkload(t *testing.T, r *rig, name string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FUSEBRIDGE_WORKLOAD="+name, "FUSEBRIDGE_DIR="+r.mnt)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("workload %s: %v: %s", name, err, stderr.String())
	}
	return cmd.Process.Pid
}

// checkPIDs checks that every FUSE-observed event of the deduped kinds
// names the workload's process.
func checkPIDs(t *testing.T, evs []*semevent.Event, pid int) {
	t.Helper()
	bad := 0
	for _, ev := range evs {
		if ev.Seen.Has(semevent.FUSE) && isDeduped(ev) && int(ev.PID) != pid {
			if bad++; bad <= 5 {
				t.Errorf("%v %s: pid %d, want the workload's %d", ev.Kind, ev.Path, ev.PID, pid)
			}
		}
	}
}

func isDeduped(ev *semevent.Event) bool {
	for _, k := range deduped {
		if ev.Kind == k {
			if k == semevent.KindFileWrite {
				_, ok := ev.Attr(fusebridge.AttrSession)
				return ok
			}
			return true
		}
	}
	return false
}

// checkSizes checks that the last FUSE write summary of each path carries the bytes the
// workload wrote in that session, as given by want (path → bytes).
func checkSizes(t *testing.T, evs []*semevent.Event, want map[string]int64) {
	t.Helper()
	last := map[string]int64{}
	for _, ev := range evs {
		if ev.Seen.Has(semevent.FUSE) && ev.Kind == semevent.KindFileWrite && isDeduped(ev) {
			last[ev.Path] = ev.Size
		}
	}
	for p, w := range want {
		if got, ok := last[p]; !ok || got != w {
			t.Errorf("last write summary of %s: Size %d (found %v), want %d", p, got, ok, w)
		}
	}
}

func TestWorkloadTree(t *testing.T) {
	for _, mode := range []fusebridge.WatcherMode{fusebridge.Fanotify, fusebridge.Inotify} {
		t.Run(mode.String(), func(t *testing.T) {
			r := newRig(t, nil, &fusebridge.WatcherOptions{Mode: mode})
			pid := runWorkload(t, r, "tree")
			evs := r.events(t)
			truth := newTruth()
			treeWorkload(truth)
			compare(t, evs, truth.ops, true)
			checkPIDs(t, evs, pid)
			checkSizes(t, evs, map[string]int64{"/d0/f3": 1003 + 4096, "/d0/f0": 5, "/d1/sub/g1": 10, "/d2r/after": 300})
			checkKernelOnly(t, evs, 0)
		})
	}
}

func TestWorkloadConcurrentWriters(t *testing.T) {
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	pid := runWorkload(t, r, "writers")
	evs := r.events(t)
	truth := newTruth()
	writersWorkload(truth)
	compare(t, evs, truth.ops, true)
	checkPIDs(t, evs, pid)
	want := map[string]int64{}
	for w := range 4 {
		for i := range 25 {
			want[fmt.Sprintf("/w%d/file%02d", w, i)] = 3 * 4096
		}
	}
	checkSizes(t, evs, want)
	checkKernelOnly(t, evs, 0)
}

// checkKernelOnly checks that exactly n events of the deduped kinds were
// seen by the kernel alone: with nobody touching the backing directory
// directly, any such event is a failed fold — a duplicate.
func checkKernelOnly(t *testing.T, evs []*semevent.Event, n int) {
	t.Helper()
	var got []string
	for _, ev := range evs {
		if isDeduped(ev) && !ev.Seen.Has(semevent.FUSE) {
			got = append(got, ev.Kind.String()+" "+ev.Path)
		}
	}
	if len(got) != n {
		t.Errorf("%d kernel-only events, want %d: %v", len(got), n, got)
	}
}

// makeTar returns a tar archive of dirs and files made in the test, and
// the operations extracting it must produce.
func makeTar(t *testing.T) ([]byte, []op) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var want []op
	add := func(h *tar.Header, body []byte) {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for d := range 4 {
		dir := fmt.Sprintf("pkg/m%d", d)
		if d == 0 {
			add(&tar.Header{Typeflag: tar.TypeDir, Name: "pkg/", Mode: 0o755}, nil)
			want = append(want, op{semevent.KindDirCreate, "/x/pkg", ""})
		}
		add(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755}, nil)
		want = append(want, op{semevent.KindDirCreate, "/x/" + dir, ""})
		for i := range 8 {
			body := chunk(i*1500, byte('a'+i))
			name := fmt.Sprintf("%s/file%d.txt", dir, i)
			add(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body)
			// Every file is written: tar sets its modification time
			// before closing it, which counts as a modification for the
			// kernel (an mtime change alone is FS_MODIFY), even when empty.
			want = append(want, op{semevent.KindFileCreate, "/x/" + name, ""},
				op{semevent.KindFileWrite, "/x/" + name, ""})
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), want
}

func TestWorkloadTarExtract(t *testing.T) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("tar not installed")
	}
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	archive, want := makeTar(t)
	src := filepath.Join(t.TempDir(), "a.tar")
	if err := os.WriteFile(src, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(r.mnt, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	want = append(want, op{semevent.KindDirCreate, "/x", ""})
	cmd := exec.Command(tarBin, "-xf", src, "-C", filepath.Join(r.mnt, "x"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	pid := cmd.Process.Pid
	evs := r.events(t)
	compare(t, evs, want, true)
	var tarEvs []*semevent.Event
	for _, ev := range evs {
		if ev.Path != "/x" {
			tarEvs = append(tarEvs, ev)
		}
	}
	checkPIDs(t, tarEvs, pid)
	checkKernelOnly(t, evs, 0)
}

// TestWorkloadGit runs git init, add and commit inside the mount. The
// ground truth is the final tree: every path that exists at the end must
// have been created (or renamed into place) exactly once more than it was
// deleted (or renamed away), every other path net zero; and no event may
// be kernel-only.
func TestWorkloadGit(t *testing.T) {
	gitBin, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git not installed")
	}
	r := newRig(t, nil, &fusebridge.WatcherOptions{})
	repo := filepath.Join(r.mnt, "repo")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := os.WriteFile(filepath.Join(repo, fmt.Sprintf("f%d.go", i)), []byte(fmt.Sprintf("package p\n\nconst C%d = %d\n", i, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	for _, args := range [][]string{{"init", "-q"}, {"add", "."}, {"commit", "-q", "-m", "first"}} {
		// git -C, never cmd.Dir: a child whose working directory is set
		// inside this process's own mount calls chdir between fork and
		// exec, and that FUSE request can deadlock the whole process (see
		// the package doc). No background gc or maintenance either: it
		// would outlive the command inside the mount.
		cmd := exec.Command(gitBin, append([]string{"-C", repo, "-c", "gc.auto=0", "-c", "maintenance.auto=false"}, args...)...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	var final []string
	filepath.WalkDir(r.backing, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != r.backing {
			final = append(final, strings.TrimPrefix(p, r.backing))
		}
		return nil
	})
	evs := r.events(t)
	checkAccounting(t, evs, final)
	checkKernelOnly(t, evs, 0)
}

// checkAccounting checks the net creations per path against the final
// tree.
func checkAccounting(t *testing.T, evs []*semevent.Event, final []string) {
	t.Helper()
	net := map[string]int{}
	var folded, total int
	for _, ev := range evs {
		if !isDeduped(ev) || ev.Kind == semevent.KindFileWrite {
			continue
		}
		total++
		if ev.Seen.Len() == 2 {
			folded++
		}
		switch ev.Kind {
		case semevent.KindFileCreate, semevent.KindDirCreate:
			net[ev.Path]++
		case semevent.KindFileDelete, semevent.KindDirDelete:
			net[ev.Path]--
		case semevent.KindFileRename:
			// Moving a directory moves what is beneath it.
			for p, n := range net {
				if strings.HasPrefix(p, ev.OldPath+"/") {
					net[ev.Path+p[len(ev.OldPath):]] += n
					net[p] -= n
				}
			}
			// A rename onto an existing name replaces it: net stays.
			if net[ev.Path] <= 0 {
				net[ev.Path]++
			}
			net[ev.OldPath]--
		}
	}
	want := map[string]int{}
	for _, p := range final {
		want[p] = 1
	}
	var bad []string
	for p, n := range net {
		if n != want[p] {
			bad = append(bad, fmt.Sprintf("%s: net %d, want %d", p, n, want[p]))
		}
	}
	for p := range want {
		if _, ok := net[p]; !ok {
			bad = append(bad, p+": never created")
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("%d paths do not add up: %v", len(bad), bad[:min(len(bad), 20)])
	}
	t.Logf("final tree %d paths; %d namespace events after dedup, %d folded FUSE+kernel", len(final), total, folded)
}
