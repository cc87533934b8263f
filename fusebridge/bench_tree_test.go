package fusebridge_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// moduleTree returns a tar archive of a deterministic tree shaped like a
// Go module: files directories of source files (200 B to 24 KiB of
// Go-like text), a few nested two levels deep, with go.mod and README at
// the top. The same seed gives the same bytes on every machine.
func moduleTree(files int) (archive []byte, bytesTotal int64) {
	r := rand.New(rand.NewPCG(15, 2))
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1.7e9, 0)}); err != nil {
			panic(err)
		}
		tw.Write(body)
		bytesTotal += int64(len(body))
	}
	dir := func(name string) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: 0o755, ModTime: time.Unix(1.7e9, 0)}); err != nil {
			panic(err)
		}
	}
	dir("mod")
	add("mod/go.mod", []byte("module example.com/mod\n\ngo 1.26\n"))
	add("mod/README.md", bytes.Repeat([]byte("A generated module for the FUSE capture benchmark.\n"), 40))
	var dirs []string
	for d := 0; len(dirs) < files/12+1; d++ {
		name := fmt.Sprintf("mod/pkg%02d", d)
		if d%4 == 3 {
			name = fmt.Sprintf("%s/internal/sub%02d", dirs[len(dirs)-1], d)
			dir(filepath.Dir(name))
		}
		dir(name)
		dirs = append(dirs, name)
	}
	line := []byte("\tx = append(x, fmt.Sprintf(\"%d: %s\", i, name)) // generated\n")
	for i := range files - 2 {
		d := dirs[i%len(dirs)]
		n := 200 + r.IntN(24<<10)
		body := make([]byte, 0, n+len(line))
		body = fmt.Appendf(body, "package %s\n\nfunc f%d(x []string) []string {\n", filepath.Base(d), i)
		for len(body) < n {
			body = append(body, line...)
		}
		add(fmt.Sprintf("%s/file%03d.go", d, i), body)
	}
	if err := tw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes(), bytesTotal
}

// treeVariant is one way to reach a directory tree.
type treeVariant struct {
	name   string
	target string
	spent  time.Duration // wall time of tar and the walk
	cpu    time.Duration // processor time of tar, the walk, and this process (the FUSE server, watcher, bus)
	sync   func()        // waits until the variant's events are all handled; nil if it has none
	close  func()
}

// tmpfsBacking returns a new directory on a tmpfs of its own, so that a
// variant's kernel watcher (a fanotify filesystem mark) sees no other
// variant's operations; on a machine where mounting fails, a directory on
// /dev/shm or in the test's temporary directory.
func tmpfsBacking(b *testing.B) string {
	d := filepath.Join(b.TempDir(), "backing")
	if err := os.Mkdir(d, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=512m"); err != nil {
		b.Logf("tmpfs for the backing directory: %v; using a shared file system", err)
		return benchBacking(b)
	}
	b.Cleanup(func() { unix.Unmount(d, unix.MNT_DETACH) })
	return d
}

// treeVariants returns, in order: the bare backing directory; go-fuse's
// own loopback (fs.NewLoopbackRoot) mounted with MountFS's options;
// semevent's loopback with a kernel watcher on the backing directory, a
// bus that folds the twins and one subscriber. The last two are given
// with passthrough (go-fuse's default for its loopback as root) and
// without (the bridge's default: every read and write through the
// server); semevent-nowatcher, without passthrough and without the
// watcher, shows what the kernel watcher costs.
func treeVariants(b *testing.B) []*treeVariant {
	needFUSE(b)
	mountAt := func(root gofs.InodeEmbedder) (string, func()) {
		mnt := filepath.Join(b.TempDir(), "mnt")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			b.Fatal(err)
		}
		m, err := fusebridge.MountFS(mnt, root, nil)
		if err != nil {
			b.Fatal(err)
		}
		return mnt, func() { m.Close(context.Background()) }
	}
	gofuse := func(passthrough bool) *treeVariant {
		root, err := gofs.NewLoopbackRoot(tmpfsBacking(b))
		if err != nil {
			b.Fatal(err)
		}
		name := "gofuse"
		if !passthrough {
			ln := root.(*gofs.LoopbackNode)
			nn := &noPassthroughNode{ln}
			ln.RootData.RootNode = nn
			root, name = nn, "gofuse-nopassthrough"
		}
		mnt, closeFn := mountAt(root)
		return &treeVariant{name: name, target: mnt, close: closeFn}
	}
	semeventV := func(passthrough, watch bool) *treeVariant {
		backing := tmpfsBacking(b)
		bus, err := propagation.New(&propagation.Options{Dedup: fusebridge.DedupOptions(0)})
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { n.Add(1); return nil }), nil)
		br, err := fusebridge.New(bus, &fusebridge.Options{Passthrough: passthrough})
		if err != nil {
			b.Fatal(err)
		}
		var w *fusebridge.Watcher
		if watch {
			if w, err = fusebridge.NewWatcher(bus, backing, &fusebridge.WatcherOptions{ServerPID: os.Getpid()}); err != nil {
				b.Fatal(err)
			}
		}
		root, err := br.NewLoopbackRoot(backing)
		if err != nil {
			b.Fatal(err)
		}
		mnt, unmount := mountAt(root)
		name := "semevent-passthrough"
		switch {
		case !watch:
			name = "semevent-nowatcher"
		case !passthrough:
			name = "semevent"
		}
		syncWatcher := func(ctx context.Context) {
			if w != nil {
				w.Sync(ctx)
			}
		}
		return &treeVariant{name: name, target: mnt, sync: func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			syncWatcher(ctx)
			br.Sync(ctx)
		}, close: func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			unmount()
			syncWatcher(ctx)
			var wc semevent.Closer
			if w != nil {
				wc = w
			}
			semevent.CloseAll(ctx, wc, br, bus)
			if st := br.Stats(); st.Dropped+st.Evicted+st.Failed > 0 {
				b.Errorf("%s: bridge lost events: %+v", name, st)
			}
			b.Logf("%s: %d events delivered", name, n.Load())
		}}
	}
	return []*treeVariant{
		{name: "direct", target: tmpfsBacking(b), close: func() {}},
		gofuse(true),
		semeventV(true, true),
		gofuse(false),
		semeventV(false, true),
		semeventV(false, false),
	}
}

// BenchmarkFUSETree (issue 15 item 2) extracts a generated module tree of
// 400 files with tar (a child process) and then walks it reading every
// file, in each variant of treeVariants, interleaved: every iteration
// does each variant once, in rotating order, so the machine's load falls
// on all alike. It reports each variant's time per tree and the ratios
// semevent/gofuse with and without passthrough (goal ≤ 1.10) and
// gofuse/direct.
func BenchmarkFUSETree(b *testing.B) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		b.Skip("tar not installed")
	}
	const files = 400
	archive, total := moduleTree(files)
	src := filepath.Join(b.TempDir(), "mod.tar")
	if err := os.WriteFile(src, archive, 0o644); err != nil {
		b.Fatal(err)
	}
	vs := treeVariants(b)
	defer func() {
		for _, v := range vs {
			v.close()
		}
	}()
	buf := make([]byte, 64<<10)
	b.SetBytes(total)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for j := range vs {
			v := vs[(it+j)%len(vs)]
			dst := filepath.Join(v.target, fmt.Sprintf("r%d", it))
			c0 := selfCPU()
			t0 := time.Now()
			if err := os.Mkdir(dst, 0o755); err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(tarBin, "-xf", src, "-C", dst)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%s: tar: %v: %s", v.name, err, out)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				v.cpu += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			var read int64
			err := filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				for {
					n, err := f.Read(buf)
					read += int64(n)
					if err == io.EOF {
						return nil
					}
					if err != nil {
						return err
					}
				}
			})
			if err != nil || read != total {
				b.Fatalf("%s: walk read %d of %d bytes: %v", v.name, read, total, err)
			}
			v.spent += time.Since(t0)
			if v.sync != nil {
				v.sync() // its events' processing is its cost
			}
			v.cpu += selfCPU() - c0
			b.StopTimer()
			if err := os.RemoveAll(dst); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	wall, cpu := map[string]float64{}, map[string]float64{}
	for _, v := range vs {
		wall[v.name] = float64(v.spent.Microseconds()) / float64(b.N)
		cpu[v.name] = float64(v.cpu.Microseconds()) / float64(b.N)
		b.ReportMetric(wall[v.name], v.name+"-µs/tree")
		b.ReportMetric(cpu[v.name], v.name+"-cpu-µs/tree")
	}
	// Wall-time ratios say what a user waits; on a loaded machine they
	// swing with the load. Processor-time ratios (tar, the walk, and the
	// whole server process, including the watcher and the bus) hold
	// steady under load.
	for _, r := range []struct{ name, a, b string }{
		{"semevent/gofuse-passthrough", "semevent-passthrough", "gofuse"},
		{"semevent/gofuse-nopassthrough", "semevent", "gofuse-nopassthrough"},
		{"semevent-nowatcher/gofuse-nopassthrough", "semevent-nowatcher", "gofuse-nopassthrough"},
		{"gofuse/direct", "gofuse", "direct"},
	} {
		b.ReportMetric(wall[r.a]/wall[r.b], r.name)
		b.ReportMetric(cpu[r.a]/cpu[r.b], r.name+"-cpu")
	}
}
