package propagation_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord/raft"
	"github.com/vexfs/semevent/propagation"
)

// envClusterNode, when set, makes the test binary one node of
// TestClusterProcessKills (see TestMain); its value is the JSON
// clusterNodeConfig.
const envClusterNode = "SEMEVENT_PROPAGATION_CLUSTER_NODE"

type clusterNodeConfig struct {
	ID      uint64            `json:"id"`
	Members map[uint64]string `json:"members"`
	Dir     string            `json:"dir"` // Raft data
	Out     string            `json:"out"` // acked and consumed files
	Shards  int               `json:"shards"`
}

// runClusterNode is one node process: a bus over coord/raft that
// publishes replicated events until told to stop (a line on stdin),
// appending each acknowledged ID to <out>/acked, and a durable consumer
// that appends "shard index id" to <out>/consumed, skipping positions it
// recorded before (a handler made idempotent by the position, as the
// package doc suggests). It prints "ready" and the leader of shard 0 as
// it changes. It exits when stdin closes.
func runClusterNode(cfgJSON string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "node:", err); return 1 }
	var cfg clusterNodeConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fail(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	c, err := raft.New(&raft.Options{Node: cfg.ID, Dir: cfg.Dir, Members: cfg.Members, Shards: cfg.Shards, Logger: quiet, StartTimeout: 2 * time.Minute})
	if err != nil {
		return fail(err)
	}
	defer c.Close(context.Background())
	bus, err := propagation.New(&propagation.Options{Coordinator: c, Durability: propagation.Replicated, Logger: quiet})
	if err != nil {
		return fail(err)
	}
	defer bus.Close(context.Background())

	consumedPath := filepath.Join(cfg.Out, "consumed")
	last := make([]uint64, cfg.Shards)
	if data, err := os.ReadFile(consumedPath); err == nil {
		for line := range strings.Lines(string(data)) {
			var shard int
			var index uint64
			var id string
			if _, err := fmt.Sscan(line, &shard, &index, &id); err == nil && shard < len(last) {
				last[shard] = max(last[shard], index)
			}
		}
	}
	consumed, err := os.OpenFile(consumedPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fail(err)
	}
	defer consumed.Close()
	again, err := os.OpenFile(filepath.Join(cfg.Out, "again"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fail(err)
	}
	defer again.Close()
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		p, _ := propagation.ReplicatedPosition(ctx)
		if p.Index <= last[p.Shard] {
			// Handled before a kill: delivered again since the last commit.
			_, err := fmt.Fprintf(again, "%d %d\n", p.Shard, p.Index)
			return err
		}
		last[p.Shard] = p.Index
		_, err := fmt.Fprintf(consumed, "%d %d %s\n", p.Shard, p.Index, ev.ID)
		return err
	}), &propagation.SubscribeOptions{Replay: &propagation.Replay{Replicated: true, Consumer: "durable"}}); err != nil {
		return fail(err)
	}

	acked, err := os.OpenFile(filepath.Join(cfg.Out, "acked"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fail(err)
	}
	defer acked.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: fmt.Sprintf("/n%d/w%d/%d", cfg.ID, w, i%8)}
				for { // retry with the same event (the same ID) until it is known to be committed
					select {
					case <-stop:
						return
					default:
					}
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := bus.Publish(ctx, ev)
					cancel()
					if err == nil {
						fmt.Fprintln(acked, ev.ID)
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	fmt.Println("ready")
	go func() { // until the process exits
		for {
			time.Sleep(50 * time.Millisecond)
			if h := c.Health(context.Background()); len(h.Shards) > 0 {
				fmt.Println("leader", h.Shards[0].Leader)
			}
		}
	}()
	sc := bufio.NewScanner(os.Stdin)
	sc.Scan() // "stop": stop publishing
	close(stop)
	wg.Wait()
	fmt.Println("stopped")
	io.Copy(io.Discard, os.Stdin) // until the driver closes stdin
	return 0
}

// clusterProc is one node process of the driver.
type clusterProc struct {
	cfg    clusterNodeConfig
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	exited chan struct{}
}

func startClusterProc(t *testing.T, cfg clusterNodeConfig) *clusterProc {
	t.Helper()
	js, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envClusterNode+"="+string(js))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &clusterProc{cfg: cfg, cmd: cmd, stdin: stdin, lines: make(chan string, 1024), exited: make(chan struct{})}
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // the driver reads only the latest leader
			}
		}
		cmd.Wait()
	}()
	return p
}

// await returns the first line with prefix, within two minutes.
func (p *clusterProc) await(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-p.exited:
			t.Fatalf("node %d exited waiting for %q", p.cfg.ID, prefix)
		case <-timeout:
			t.Fatalf("node %d: no %q within two minutes", p.cfg.ID, prefix)
		}
	}
}

func (p *clusterProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// TestClusterProcessKills: three node processes publish replicated events
// concurrently while the leader of shard 0 is SIGKILLed and restarted,
// SEMEVENT_CLUSTER_KILLS times (default 3). Then every node's durable
// consumer — restarted with its node — has every acknowledged event
// exactly once, with no gap in any shard's indexes, and each shard's
// sequence is the same on every node.
func TestClusterProcessKills(t *testing.T) {
	kills := 3
	if v, err := strconv.Atoi(os.Getenv("SEMEVENT_CLUSTER_KILLS")); err == nil {
		kills = v
	}
	const shards = 2
	dir := t.TempDir()
	members := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		members[id] = raftFreeAddr(t)
	}
	procs := make([]*clusterProc, 3)
	cfgs := make([]clusterNodeConfig, 3)
	for i := range procs {
		cfgs[i] = clusterNodeConfig{ID: uint64(i + 1), Members: members, Shards: shards,
			Dir: filepath.Join(dir, fmt.Sprint("n", i+1), "raft"), Out: filepath.Join(dir, fmt.Sprint("n", i+1))}
		os.MkdirAll(cfgs[i].Out, 0o755)
		procs[i] = startClusterProc(t, cfgs[i])
	}
	t.Cleanup(func() {
		for _, p := range procs {
			p.kill()
		}
	})
	for _, p := range procs {
		p.await(t, "ready")
	}
	// leaderOf returns shard 0's leader as node from reports now (the
	// node reports every 50ms: older lines are drained first).
	leaderOf := func(from *clusterProc) int {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			for drained := false; !drained; {
				select {
				case <-from.lines:
				default:
					drained = true
				}
			}
			if l := from.await(t, "leader "); l != "leader 0" {
				n, _ := strconv.Atoi(strings.TrimPrefix(l, "leader "))
				return n - 1
			}
		}
		t.Fatal("no leader reported within two minutes")
		return -1
	}
	for k := range kills {
		time.Sleep(500 * time.Millisecond)
		i := leaderOf(procs[(k+1)%3])
		procs[i].kill()
		t.Logf("kill %d: node %d (shard 0's leader)", k+1, i+1)
		time.Sleep(300 * time.Millisecond)
		procs[i] = startClusterProc(t, cfgs[i])
		procs[i].await(t, "ready")
	}
	for _, p := range procs {
		io.WriteString(p.stdin, "stop\n")
	}
	for _, p := range procs {
		p.await(t, "stopped")
	}

	// Every acknowledged ID, from every node's file.
	acked := map[string]bool{}
	for _, c := range cfgs {
		data, _ := os.ReadFile(filepath.Join(c.Out, "acked"))
		for l := range strings.Lines(string(data)) {
			acked[strings.TrimSpace(l)] = true
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	// Wait for every consumer to have them all, then check.
	type rec struct {
		shard int
		index uint64
		id    string
	}
	read := func(c clusterNodeConfig) []rec {
		data, _ := os.ReadFile(filepath.Join(c.Out, "consumed"))
		var rs []rec
		for l := range strings.Lines(string(data)) {
			var r rec
			if _, err := fmt.Sscan(l, &r.shard, &r.index, &r.id); err == nil {
				rs = append(rs, r)
			}
		}
		return rs
	}
	var ref map[[2]uint64]string
	for _, c := range cfgs {
		var rs []rec
		var missing int
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
			rs = read(c)
			missing = len(acked)
			for _, r := range rs {
				if acked[r.id] {
					missing--
				}
			}
			if missing <= 0 || time.Now().After(deadline) {
				break
			}
		}
		ids := map[string]int{}
		byPos := map[[2]uint64]string{}
		next := make([]uint64, shards)
		for _, r := range rs {
			ids[r.id]++
			if ids[r.id] > 1 {
				t.Fatalf("node %d's consumer has %s twice", c.ID, r.id)
			}
			if r.index != next[r.shard]+1 {
				t.Fatalf("node %d's consumer: shard %d index %d after %d: a gap or a repeat", c.ID, r.shard, r.index, next[r.shard])
			}
			next[r.shard] = r.index
			byPos[[2]uint64{uint64(r.shard), r.index}] = r.id
		}
		if missing > 0 {
			t.Fatalf("node %d's consumer lacks %d of %d acknowledged events", c.ID, missing, len(acked))
		}
		if ref == nil {
			ref = byPos
		} else {
			for pos, id := range byPos {
				if rid, ok := ref[pos]; ok && rid != id {
					t.Fatalf("shard %d index %d: node %d has %s, node 1 %s", pos[0], pos[1], c.ID, id, rid)
				}
			}
		}
		data, _ := os.ReadFile(filepath.Join(c.Out, "again"))
		t.Logf("node %d's consumer: %d events (%d acknowledged), shards' last indexes %v; %d delivered again after its restarts (skipped by position)",
			c.ID, len(rs), len(acked), next, strings.Count(string(data), "\n"))
	}
	for _, p := range procs {
		p.stdin.Close()
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		case <-time.After(time.Minute):
			t.Errorf("node %d did not exit after its stdin closed", p.cfg.ID)
		}
	}
}
