package raft

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
)

// The memory measurement of issue 13: a 3-node cluster of separate
// processes (this test binary re-executed) takes 1M and then 10M
// replicated events, and the test reports each node's RSS, Go heap and
// data directory after each milestone. The goal: the RSS after 10M is
// within 1.2× of the RSS after 1M (a node that runs for a month must not
// keep its whole log in memory).
//
//	SEMEVENT_RSS=1 go test -run '^TestRSSReplicated$' -v -timeout 3h ./coord/raft
//
// SEMEVENT_RSS_EVENTS sets the last milestone (default 10000000; the
// milestones are 1M, 2M, 5M, 10M up to it, or just it when smaller).
// SEMEVENT_RSS_LIMIT_MB (default 4096) stops the run when a node's RSS
// passes it, so that a log held in memory does not exhaust a shared
// machine: the test then fails, saying where it stopped.
func TestRSSReplicated(t *testing.T) {
	if os.Getenv(rssChildEnv) != "" {
		rssChild(t)
		return
	}
	if os.Getenv("SEMEVENT_RSS") == "" {
		t.Skip("SEMEVENT_RSS not set: appends up to 10M events to a 3-process cluster")
	}
	last := rssEnvInt(t, "SEMEVENT_RSS_EVENTS", 10_000_000)
	limit := int64(rssEnvInt(t, "SEMEVENT_RSS_LIMIT_MB", 4096)) << 20
	var milestones []int
	for _, m := range []int{1_000_000, 2_000_000, 5_000_000, 10_000_000} {
		if m < last {
			milestones = append(milestones, m)
		}
	}
	milestones = append(milestones, last)

	dir := t.TempDir()
	var members []string
	for i := range 3 {
		members = append(members, fmt.Sprintf("%d=127.0.0.1:%d", i+1, freePort(t)))
	}
	nodes := make([]*rssNode, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		nodes[i] = startRSSNode(t, dir, i+1, strings.Join(members, ","))
	}
	for _, n := range nodes {
		wg.Go(func() { n.expect(t, "ready", 2*time.Minute) })
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	type row struct {
		events int
		stats  [3]rssStats
	}
	var rows []row
	statAll := func(events int) row {
		time.Sleep(2 * time.Second) // the followers apply the last proposals
		r := row{events: events}
		for i, n := range nodes {
			r.stats[i] = n.stat(t)
			s := r.stats[i]
			t.Logf("%10d events: node %d RSS %6.1f MB (anon %6.1f, file %6.1f), Go runtime %6.1f MB (heap objects %6.1f), dir %7.1f MB",
				events, i+1, mb(s.rss), mb(s.anon), mb(s.file), mb(s.goMem), mb(s.heap), mb(s.disk))
		}
		rows = append(rows, r)
		return r
	}
	statAll(0)
	total := 0
	start := time.Now()
	for _, m := range milestones {
		t0 := time.Now()
		nodes[0].send(t, fmt.Sprintf("append %d", m-total))
		line := nodes[0].expect(t, "ok", 3*time.Hour)
		if line == "" {
			return
		}
		t.Logf("appended %d events in %v (%.0f events/s)", m-total, time.Since(t0).Round(time.Millisecond), float64(m-total)/time.Since(t0).Seconds())
		total = m
		r := statAll(total)
		over := false
		for i, s := range r.stats {
			if s.rss > limit {
				t.Errorf("stopped at %d events: node %d's RSS is %.1f MB, above SEMEVENT_RSS_LIMIT_MB (%d)", total, i+1, mb(s.rss), limit>>20)
				over = true
			}
		}
		if over {
			break
		}
	}
	t.Logf("%d events in %v", total, time.Since(start).Round(time.Second))
	// MB per million events between the first milestone and the last
	// reached, and the ratio the goal is about.
	var first *row
	for i := range rows {
		if rows[i].events == milestones[0] {
			first = &rows[i]
		}
	}
	lastRow := rows[len(rows)-1]
	if first == nil || lastRow.events == first.events {
		return
	}
	millions := float64(lastRow.events-first.events) / 1e6
	for i := range 3 {
		a, b := first.stats[i], lastRow.stats[i]
		ratio := float64(b.rss) / float64(a.rss)
		t.Logf("node %d: RSS %.1f MB at %d events, %.1f MB at %d (%.2f×): %.1f MB per million events (Go heap %.1f MB per million, dir %.1f MB per million)",
			i+1, mb(a.rss), first.events, mb(b.rss), lastRow.events, ratio,
			(mb(b.rss)-mb(a.rss))/millions, (mb(b.heap)-mb(a.heap))/millions, (mb(b.disk)-mb(a.disk))/millions)
		if lastRow.events >= 10*first.events && ratio > 1.2 {
			t.Errorf("node %d: RSS after %d events is %.2f× the RSS after %d, want at most 1.2×", i+1, lastRow.events, ratio, first.events)
		}
	}
}

const rssChildEnv = "SEMEVENT_RSS_CHILD"

func rssEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// rssStats is one node's memory and disk: VmRSS, and of it RssAnon and
// RssFile (file pages mapped, e.g. mmapped segments); the Go runtime's
// memory not returned to the OS (/memory/classes/total minus
// heap/released), of which live heap objects; the data directory's size.
type rssStats struct{ rss, anon, file, goMem, heap, disk int64 }

// rssNode is one node process and its command pipe.
type rssNode struct {
	id    int
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startRSSNode(t *testing.T, dir string, id int, members string) *rssNode {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRSSReplicated$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+strconv.Itoa(id),
		"SEMEVENT_RSS_DIR="+filepath.Join(dir, fmt.Sprint("node", id)), "SEMEVENT_RSS_MEMBERS="+members)
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("node%d.log", id)))
	if err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex // guards logf: the node's test output and stderr
	cmd.Stderr = &lockedWriter{mu: &logMu, w: logf}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &rssNode{id: id, cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "rss: "); ok {
				n.lines <- l
			} else {
				logMu.Lock()
				fmt.Fprintln(logf, sc.Text()) // the node's test output: its failure, if any
				logMu.Unlock()
			}
		}
		close(n.lines)
	}()
	t.Cleanup(func() {
		in.Close() // the node closes its coordinator and exits
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil && len(b) > 0 {
				t.Logf("node %d's stderr:\n%s", id, b[max(0, len(b)-4096):])
			}
		}
	})
	return n
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (n *rssNode) send(t *testing.T, cmd string) {
	if _, err := fmt.Fprintln(n.in, cmd); err != nil {
		t.Errorf("node %d: %v", n.id, err)
	}
}

// expect waits for the node's next line, which must start with word, and
// returns it ("" after reporting an error).
func (n *rssNode) expect(t *testing.T, word string, timeout time.Duration) string {
	select {
	case l, ok := <-n.lines:
		if !ok {
			t.Errorf("node %d exited (waiting for %q)", n.id, word)
			return ""
		}
		if !strings.HasPrefix(l, word) {
			t.Errorf("node %d said %q, want %q", n.id, l, word)
			return ""
		}
		return l
	case <-time.After(timeout):
		t.Errorf("node %d: no %q after %v", n.id, word, timeout)
		return ""
	}
}

func (n *rssNode) stat(t *testing.T) rssStats {
	n.send(t, "stat")
	l := n.expect(t, "stat", time.Minute)
	var s rssStats
	if _, err := fmt.Sscanf(l, "stat %d %d %d %d %d %d", &s.rss, &s.anon, &s.file, &s.goMem, &s.heap, &s.disk); err != nil && l != "" {
		t.Errorf("node %d: stat line %q: %v", n.id, l, err)
	}
	return s
}

// rssChild is a node process: it starts its coordinator, says "ready",
// and then answers commands on stdin, one per line, until EOF:
// "append N" (appends N events through this node, 64 appenders of 64
// events per Append, and says "ok") and "stat" (says "stat" and the
// fields of an rssStats, in bytes).
func rssChild(t *testing.T) {
	id, _ := strconv.Atoi(os.Getenv(rssChildEnv))
	dir := os.Getenv("SEMEVENT_RSS_DIR")
	members := make(map[uint64]string)
	for _, m := range strings.Split(os.Getenv("SEMEVENT_RSS_MEMBERS"), ",") {
		k, v, _ := strings.Cut(m, "=")
		n, _ := strconv.ParseUint(k, 10, 64)
		members[n] = v
	}
	c, err := New(&Options{Node: uint64(id), Dir: dir, Members: members, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	fmt.Println("rss: ready")
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch f := strings.Fields(sc.Text()); {
		case len(f) == 2 && f[0] == "append":
			n, _ := strconv.Atoi(f[1])
			if err := rssAppend(c, n); err != nil {
				t.Fatal(err)
			}
			fmt.Println("rss: ok")
		case len(f) == 1 && f[0] == "stat":
			st := procStatus(t)
			goMem, heap := goMemory()
			fmt.Printf("rss: stat %d %d %d %d %d %d\n", st["VmRSS"], st["RssAnon"], st["RssFile"], goMem, heap, dirSize(dir))
		default:
			t.Fatalf("unknown command %q", sc.Text())
		}
	}
}

// rssAppend appends n events through c: 64 appenders, 64 events per
// Append, watcher-shaped events (publishEvent) with new IDs.
func rssAppend(c *Coordinator, n int) error {
	const appenders, batch = 64, 64
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	errs := make([]error, appenders)
	for a := range appenders {
		wg.Go(func() {
			evs := make([]*semevent.Event, batch)
			for i := range evs {
				evs[i] = publishEvent(a*batch + i)
			}
			for k := 0; ; k++ {
				m := int(min(left.Add(-batch)+batch, batch))
				if m <= 0 {
					return
				}
				for _, ev := range evs[:m] {
					ev.ID, ev.Time, ev.Offset = semevent.ID{}, 0, int64(k)*ev.Size
				}
				if _, err := c.Append(context.Background(), evs[:m]...); err != nil {
					errs[a] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// procStatus returns the kB fields of /proc/self/status, in bytes.
func procStatus(t *testing.T) map[string]int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int64)
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if v, isKB := strings.CutSuffix(strings.TrimSpace(v), " kB"); ok && isKB {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				m[k] = n << 10
			}
		}
	}
	if m["VmRSS"] == 0 {
		t.Fatal("no VmRSS in /proc/self/status")
	}
	return m
}

// goMemory returns the memory the Go runtime holds from the OS (mapped
// and not released) and, of it, the live and unswept heap objects.
func goMemory() (held, heap int64) {
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
	}
	metrics.Read(s)
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64()), int64(s[2].Value.Uint64())
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
