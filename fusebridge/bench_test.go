package fusebridge_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// noPassthroughNode is go-fuse's loopback with passthrough turned off: the
// bare baseline for the bridge, which also sends reads and writes through
// the server.
type noPassthroughNode struct{ *fs.LoopbackNode }

type noPassthroughFile struct{ *fs.LoopbackFile }

func (noPassthroughFile) PassthroughFd() (int, bool) { return -1, false }

func (n *noPassthroughNode) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &noPassthroughNode{ops.(*fs.LoopbackNode)}
}

func (n *noPassthroughNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fl, errno := n.LoopbackNode.Open(ctx, flags)
	if lf, ok := fh.(*fs.LoopbackFile); ok {
		fh = noPassthroughFile{lf}
	}
	return fh, fl, errno
}

func (n *noPassthroughNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ch, fh, fl, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if lf, ok := fh.(*fs.LoopbackFile); ok {
		fh = noPassthroughFile{lf}
	}
	return ch, fh, fl, errno
}

// writeFiles writes n files of 4 KiB into a new directory under dir.
func writeFiles(b *testing.B, dir string, round, n int) {
	d := filepath.Join(dir, fmt.Sprintf("r%d", round))
	if err := os.Mkdir(d, 0o755); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 4096)
	for i := range n {
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFUSEWrite writes 2000 files of 4 KiB per iteration through: the
// backing directory directly; go-fuse's bare loopback with and without
// passthrough; the semevent loopback publishing every event to a bus with
// one subscriber, without passthrough (every write seen) and with it.
// Compare semevent to the bare loopback of the same passthrough setting.
func BenchmarkFUSEWrite(b *testing.B) {
	const files = 2000
	for _, v := range fuseVariants(b, files) {
		b.Run(v.name, func(b *testing.B) {
			target, cleanup := v.setup(b)
			defer cleanup()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				writeFiles(b, target, i, files)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*files), "ns/file")
		})
	}
}

// BenchmarkFUSEWriteInterleaved mounts every variant at once and writes
// the 2000 files of each iteration in rounds of 100, rotating through the
// variants, so that the machine's load falls on all of them alike; it
// reports each variant's ns/file and the ratios of semevent to bare
// go-fuse. On a shared machine this gives steadier ratios than running
// the variants one after the other.
func BenchmarkFUSEWriteInterleaved(b *testing.B) {
	const files, round = 2000, 100
	vs := fuseVariants(b, files)
	targets := make([]string, len(vs))
	for i, v := range vs {
		t, cleanup := v.setup(b)
		defer cleanup()
		targets[i] = t
	}
	spent := make([]time.Duration, len(vs))
	data := make([]byte, 4096)
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for i := range vs {
			if err := os.Mkdir(filepath.Join(targets[i], fmt.Sprintf("r%d", it)), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		for start := 0; start < files; start += round {
			for i := range vs {
				t0 := time.Now()
				for f := start; f < start+round; f++ {
					if err := os.WriteFile(filepath.Join(targets[i], fmt.Sprintf("r%d/f%04d", it, f)), data, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				spent[i] += time.Since(t0)
			}
		}
	}
	b.StopTimer()
	per := func(i int) float64 { return float64(spent[i].Nanoseconds()) / float64(b.N*files) }
	for i, v := range vs {
		b.ReportMetric(per(i), v.name+"-ns/file")
	}
	b.ReportMetric(per(2)/per(1), "semevent/gofuse-passthrough")
	b.ReportMetric(per(4)/per(3), "semevent/gofuse-nopassthrough")
	b.ReportMetric(per(5)/per(3), "semevent-nobus/gofuse-nopassthrough")
}

type fuseVariant struct {
	name  string
	setup func(b *testing.B) (target string, cleanup func())
}

// fuseVariants returns, in order: direct, gofuse-passthrough,
// semevent-passthrough, gofuse-nopassthrough, semevent-nopassthrough.
func fuseVariants(b *testing.B, files int) []fuseVariant {
	bare := func(pt bool) func(b *testing.B, backing, mnt string) func() {
		return func(b *testing.B, backing, mnt string) func() {
			root, err := fs.NewLoopbackRoot(backing)
			if err != nil {
				b.Fatal(err)
			}
			if !pt {
				ln := root.(*fs.LoopbackNode)
				nn := &noPassthroughNode{ln}
				ln.RootData.RootNode = nn
				root = nn
			}
			m, err := fusebridge.MountFS(mnt, root, nil)
			if err != nil {
				b.Fatal(err)
			}
			return func() { m.Close(context.Background()) }
		}
	}
	withEvents := func(pt bool) func(b *testing.B, backing, mnt string) func() {
		return func(b *testing.B, backing, mnt string) func() {
			// No spinning: on a small machine the bus's goroutines polling
			// for work take the processor from the FUSE server.
			bus, err := propagation.New(&propagation.Options{Spin: -1})
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			bus.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error { n.Add(1); return nil }), nil)
			br, err := fusebridge.New(bus, &fusebridge.Options{Passthrough: pt})
			if err != nil {
				b.Fatal(err)
			}
			root, err := br.NewLoopbackRoot(backing)
			if err != nil {
				b.Fatal(err)
			}
			m, err := fusebridge.MountFS(mnt, root, nil)
			if err != nil {
				b.Fatal(err)
			}
			return func() {
				m.Close(context.Background())
				br.Close(context.Background())
				bus.Close(context.Background())
				st := br.Stats()
				if st.Dropped+st.Evicted > 0 {
					b.Errorf("bridge dropped events: %+v", st)
				}
			}
		}
	}
	mk := func(name string, mount func(b *testing.B, backing, mnt string) func()) fuseVariant {
		return fuseVariant{name: name, setup: func(b *testing.B) (string, func()) {
			backing := benchBacking(b)
			if mount == nil {
				return backing, func() {}
			}
			needFUSE(b)
			mnt := filepath.Join(b.TempDir(), "mnt")
			os.Mkdir(mnt, 0o755)
			return mnt, mount(b, backing, mnt)
		}}
	}
	return []fuseVariant{
		mk("direct", nil),
		mk("gofuse-passthrough", bare(true)),
		mk("semevent-passthrough", withEvents(true)),
		mk("gofuse-nopassthrough", bare(false)),
		mk("semevent-nopassthrough", withEvents(false)),
		mk("semevent-nobus-nopassthrough", func(b *testing.B, backing, mnt string) func() {
			// The bridge's own cost: events built and queued, then dropped
			// by a Propagator that does nothing.
			br, err := fusebridge.New(discard{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			root, _ := br.NewLoopbackRoot(backing)
			m, err := fusebridge.MountFS(mnt, root, nil)
			if err != nil {
				b.Fatal(err)
			}
			return func() { m.Close(context.Background()); br.Close(context.Background()) }
		}),
	}
}

// benchBacking returns the backing directory: on tmpfs (/dev/shm) when
// there is one, so that the disk does not hide FUSE's cost, else in the
// test's temporary directory. FUSEBRIDGE_BENCH_DIR overrides it.
func benchBacking(b *testing.B) string {
	parent := os.Getenv("FUSEBRIDGE_BENCH_DIR")
	if parent == "" {
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			parent = "/dev/shm"
		} else {
			parent = b.TempDir()
		}
	}
	d, err := os.MkdirTemp(parent, "fusebridge-bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// discard is a Propagator that accepts and forgets every event.
type discard struct{}

func (discard) Publish(context.Context, *semevent.Event) error { return nil }
func (discard) Subscribe(semevent.Handler, *propagation.SubscribeOptions) (propagation.Subscription, error) {
	return nil, nil
}
func (discard) Close(context.Context) error { return nil }
