package raft

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
)

// rssMB returns the process's resident set size in MB (VmRSS).
func rssMB(t testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	t.Skip("no VmRSS")
	return 0
}

func dirMB(dir string) float64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return float64(n) / (1 << 20)
}

// TestMemoryRSS appends 10 M events to a three-node cluster in this
// process (64 appenders, 100 events per Append, to every node in turn)
// and reports the RSS after 1 M and after 10 M replicated events (every
// node applied them), after a GC: the journal holds the log on disk, so
// memory must not grow with it (goal: 10 M within 1.2× of 1 M). Long:
// run with SEMEVENT_RAFT_MEMORY=1 (SEMEVENT_RAFT_MEMORY_EVENTS sets the
// larger count).
func TestMemoryRSS(t *testing.T) {
	if os.Getenv("SEMEVENT_RAFT_MEMORY") == "" {
		t.Skip("set SEMEVENT_RAFT_MEMORY=1 to measure (minutes)")
	}
	total := 10_000_000
	if n, err := strconv.Atoi(os.Getenv("SEMEVENT_RAFT_MEMORY_EVENTS")); err == nil && n > 0 {
		total = n
	}
	cl := newCluster(t, clusterConfig{tweak: func(o *Options) { o.Heartbeat = -1 }})
	const appenders, batch = 64, 100
	var appended atomic.Int64
	ctx := context.Background()
	run := func(upto int64) {
		var wg sync.WaitGroup
		for w := range appenders {
			wg.Go(func() {
				evs := make([]*semevent.Event, batch)
				for appended.Load() < upto {
					for i := range evs {
						evs[i] = &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/mem/%d/%d", w, i), Size: int64(i)}
					}
					if _, err := cl.node(w%3).Append(ctx, evs...); err != nil {
						t.Error(err)
						return
					}
					appended.Add(batch)
				}
			})
		}
		wg.Wait()
	}
	settle := func() float64 {
		want := uint64(appended.Load())
		for i := range 3 {
			for cl.node(i).reps.get(0).held() < want {
				time.Sleep(10 * time.Millisecond)
			}
		}
		runtime.GC()
		debug.FreeOSMemory()
		return rssMB(t)
	}
	start := time.Now()
	run(1_000_000)
	rss1 := settle()
	t1 := time.Since(start)
	run(int64(total))
	rss10 := settle()
	el := time.Since(start)
	n := float64(appended.Load()) / 1e6
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("RSS after %.1f M events: %.0f MB; after %.1f M: %.0f MB (%.2f×); %.2f MB per further million events; heap in use %.0f MB; journal on disk %.0f MB per node; %.0f events/s (first 1 M in %v, all in %v)",
		1.0, rss1, n, rss10, rss10/rss1, (rss10-rss1)/(n-1), float64(ms.HeapInuse)/(1<<20),
		dirMB(filepath.Join(cl.opts[0].Dir, "shards")), float64(appended.Load())/el.Seconds(), t1.Round(time.Second), el.Round(time.Second))
	if rss10 > 1.2*rss1 {
		t.Errorf("RSS grew from %.0f MB to %.0f MB: more than 1.2×", rss1, rss10)
	}
}
