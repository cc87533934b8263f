package raft

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
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
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/internal/codec"
)

// A node process: the test binary re-executed with procNodeEnv set to a
// JSON procNodeConfig runs one Coordinator and serves it over HTTP on
// 127.0.0.1, until it is killed. The test process is the client: an
// append whose node dies under it has an outcome the client cannot know,
// as for a real client whose server crashed.
const procNodeEnv = "SEMEVENT_RAFT_NODE"

type procNodeConfig struct {
	Node    uint64
	Dir     string
	Members map[uint64]string
	Shards  int
	HTTP    string // address to serve on
}

// procAppendResult is a node's answer to /append.
type procAppendResult struct {
	Positions []coord.Position `json:",omitempty"`
	Err       string           `json:",omitempty"`
	Unknown   bool             `json:",omitempty"` // the error wraps coord.ErrOutcomeUnknown
}

// procRecord is one record of /read.
type procRecord struct {
	Index uint64
	ID    semevent.ID
}

// procNodeMain runs a node process and never returns normally.
func procNodeMain() int {
	var cfg procNodeConfig
	if err := json.Unmarshal([]byte(os.Getenv(procNodeEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "node config:", err)
		return 2
	}
	c, err := New(&Options{
		Node:    cfg.Node,
		Dir:     cfg.Dir,
		Members: cfg.Members,
		Shards:  cfg.Shards,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		return 1
	}
	for shard := range cfg.Shards {
		if err := startSink(c, cfg, shard); err != nil {
			fmt.Fprintln(os.Stderr, "sink:", err)
			return 1
		}
	}
	trace := os.Getenv("SEMEVENT_RAFT_TRACE") != ""
	if trace {
		go func() {
			var last uint64
			for {
				l, term, ok, _ := c.nh.GetLeaderID(shardID(0))
				if !ok {
					l = 0
				}
				if l != last {
					fmt.Fprintf(os.Stderr, "%s node %d: shard 0 leader %d term %d\n", time.Now().Format("15:04:05.000"), cfg.Node, l, term)
					last = l
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/append", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var evs []*semevent.Event
		for len(body) > 0 {
			n, k := binary.Uvarint(body)
			if k <= 0 || uint64(len(body)-k) < n {
				http.Error(w, "bad framing", http.StatusBadRequest)
				return
			}
			ev := new(semevent.Event)
			if err := codec.Decode(body[k:k+int(n)], ev); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			evs = append(evs, ev)
			body = body[k+int(n):]
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		t0 := time.Now()
		pos, err := c.Append(ctx, evs...)
		if trace && time.Since(t0) > 300*time.Millisecond {
			var shard any = "?"
			if len(pos) > 0 {
				shard = pos[0].Shard
			}
			fmt.Fprintf(os.Stderr, "%s node %d: append (shard %v) took %v: %v; %+v\n", t0.Format("15:04:05.000"), cfg.Node, shard, time.Since(t0).Round(time.Millisecond), err, c.Stats())
		}
		res := procAppendResult{Positions: pos}
		if err != nil {
			res = procAppendResult{Err: err.Error(), Unknown: errors.Is(err, coord.ErrOutcomeUnknown)}
		}
		json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		shard, _ := strconv.Atoi(r.FormValue("shard"))
		from, _ := strconv.ParseUint(r.FormValue("from"), 10, 64)
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		recs, err := c.Read(ctx, shard, from, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		out := make([]procRecord, len(recs))
		for i, rec := range recs {
			out[i] = procRecord{Index: rec.Index, ID: rec.Event.ID}
		}
		json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(c.Stats())
	})
	mux.HandleFunc("/leader", func(w http.ResponseWriter, r *http.Request) {
		l, _, ok, _ := c.nh.GetLeaderID(shardID(0))
		if !ok {
			l = 0
		}
		fmt.Fprint(w, l)
	})
	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Println("ready")
	http.Serve(ln, mux) // until SIGKILL
	return 1
}

// procCluster runs node processes and talks to them.
type procCluster struct {
	t      testing.TB
	cfgs   []procNodeConfig
	client *http.Client

	mu    sync.Mutex // guards procs
	procs []*exec.Cmd
}

func newProcCluster(t testing.TB, nodes, shards int) *procCluster {
	dir := t.TempDir()
	members := make(map[uint64]string)
	for i := range nodes {
		members[uint64(i+1)] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	}
	pc := &procCluster{t: t, procs: make([]*exec.Cmd, nodes), client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	for i := range nodes {
		pc.cfgs = append(pc.cfgs, procNodeConfig{
			Node: uint64(i + 1), Dir: filepath.Join(dir, fmt.Sprint("node", i+1)), Members: members, Shards: shards,
			HTTP: fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		})
	}
	t.Cleanup(pc.killAll)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { errs[i] = pc.start(i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start node %d: %v", i+1, err)
		}
	}
	return pc
}

// start runs node i's process and waits until it is ready (New returned:
// every shard has a leader).
func (pc *procCluster) start(i int) error {
	cfg, _ := json.Marshal(pc.cfgs[i])
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), procNodeEnv+"="+string(cfg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if os.Getenv("SEMEVENT_RAFT_TRACE") != "" {
		cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			return fmt.Errorf("node %d did not start: %s", i+1, stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("node %d not ready after 60s: %s", i+1, stderr.String())
	}
	pc.mu.Lock()
	pc.procs[i] = cmd
	pc.mu.Unlock()
	return nil
}

// kill SIGKILLs node i and reaps it.
func (pc *procCluster) kill(i int) {
	pc.mu.Lock()
	cmd := pc.procs[i]
	pc.procs[i] = nil
	pc.mu.Unlock()
	if cmd != nil {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
}

func (pc *procCluster) killAll() {
	for i := range pc.procs {
		pc.kill(i)
	}
	pc.client.CloseIdleConnections()
}

func (pc *procCluster) up(i int) bool {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return pc.procs[i] != nil
}

func (pc *procCluster) url(i int, path string) string {
	return "http://" + pc.cfgs[i].HTTP + path
}

// append sends evs to node i. ok means committed at the positions
// returned; otherwise the outcome is unknown to the client.
func (pc *procCluster) append(ctx context.Context, i int, evs []*semevent.Event) ([]coord.Position, error) {
	var body []byte
	for _, ev := range evs {
		rec := codec.Append(nil, ev)
		body = binary.AppendUvarint(body, uint64(len(rec)))
		body = append(body, rec...)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, pc.url(i, "/append"), bytes.NewReader(body))
	resp, err := pc.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res procAppendResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, fmt.Errorf("node %d: %s: %w", i+1, resp.Status, err)
	}
	if res.Err != "" {
		return nil, fmt.Errorf("node %d: %s", i+1, res.Err)
	}
	return res.Positions, nil
}

// read returns node i's committed records of shard from index from on
// (linearizable, served from node i's replica).
func (pc *procCluster) read(ctx context.Context, i, shard int, from uint64) ([]procRecord, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, pc.url(i, fmt.Sprintf("/read?shard=%d&from=%d", shard, from)), nil)
	resp, err := pc.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("node %d: %s: %s", i+1, resp.Status, b)
	}
	var out []procRecord
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

// leader returns the index of shard 0's leader as some live node knows it,
// or -1.
func (pc *procCluster) leader(ctx context.Context) int {
	for i := range pc.cfgs {
		if !pc.up(i) {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, pc.url(i, "/leader"), nil)
		resp, err := pc.client.Do(req)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if l, err := strconv.Atoi(string(b)); err == nil && l > 0 && pc.up(l-1) {
			return l - 1
		}
	}
	return -1
}

// The durable consumer of a node process: it follows each shard from the
// offset committed through coord.Offsets and writes every record to a
// sink file, "<index> <id>" per line, then commits the next offset. A
// kill between the write and the commit redelivers that record after the
// restart: the sink, keyed by index, drops it. Each start appends
// "<last index in the sink> <committed next>" to a starts file, for the
// test to check that the committed offset was neither lost nor ahead.
const sinkConsumer = "procsink"

func sinkPath(dir string, shard int) string   { return fmt.Sprintf("%s.sink-%d", dir, shard) }
func startsPath(dir string, shard int) string { return fmt.Sprintf("%s.starts-%d", dir, shard) }

func startSink(c *Coordinator, cfg procNodeConfig, shard int) error {
	path := sinkPath(cfg.Dir, shard)
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// Drop a torn last line, then find the last index delivered.
	b = b[:bytes.LastIndexByte(b, '\n')+1]
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	var last uint64
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) > 0 && lines[0] != "" {
		f := strings.Fields(lines[len(lines)-1])
		if last, err = strconv.ParseUint(f[0], 10, 64); err != nil {
			return fmt.Errorf("sink %s: %w", path, err)
		}
	}
	next, ok, err := coord.CommittedOffset(c, shard, sinkConsumer)
	if err != nil {
		return err
	}
	if !ok {
		next = 1
	}
	starts, err := os.OpenFile(startsPath(cfg.Dir, shard), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(starts, "%d %d\n", last, next)
	starts.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// f stays open until the process is killed.
	_, err = c.Subscribe(shard, next, coord.HandlerFunc(func(_ context.Context, r coord.Record) error {
		if r.Index <= last {
			return nil // delivered before the kill, not yet committed then
		}
		if _, err := fmt.Fprintf(f, "%d %s\n", r.Index, r.Event.ID); err != nil {
			return err
		}
		last = r.Index
		return coord.CommitOffset(c, shard, sinkConsumer, r.Index+1)
	}))
	return err
}
