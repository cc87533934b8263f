// Command cluster is semevent's whole story on one machine: three node
// processes — this program, re-executed — each with a FUSE loopback mount
// over its own directory, a kernel watcher on that directory, and a bus in
// replicated mode over a three-node coord/raft cluster on 127.0.0.1.
//
// A process writes a file through node 1's mount. Node 1's FUSE server
// and kernel watcher both see the write; the bus folds the two sightings
// into one event and commits it through Raft. Nodes 2 and 3 receive it as
// a Remote event with the writer's pid and trace context, and a rule on
// node 3 reacts to it. Then node 2 is killed with SIGKILL, two more files
// are written while it is down, node 2 restarts from its own disk, and
// its durable consumer catches up with exactly what it missed. The
// output says each step in plain words.
//
//	sudo go run ./examples/cluster            # in a temporary directory
//	sudo go run ./examples/cluster -dir /tmp/c
//
// It needs root and /dev/fuse (it mounts without fusermount).
//
// The trace context comes from the writer's environment: the FUSE server
// reads TRACEPARENT from /proc/<pid>/environ of the process doing the
// operation (fusebridge.Options.Annotate), so any traced program writing
// through the mount carries its trace into the cluster.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/coord/raft"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/fusebridge"
	"github.com/vexfs/semevent/propagation"
)

// envNode, when set, makes this program a node process; its value is the
// node's JSON nodeConfig.
const envNode = "SEMEVENT_CLUSTER_NODE"

func main() {
	if cfg := os.Getenv(envNode); cfg != "" {
		if err := runNode(cfg, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "cluster node:", err)
			os.Exit(1)
		}
		return
	}
	dir := flag.String("dir", "", "data directory (default: a new temporary directory, removed at exit)")
	flag.Parse()
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "semevent-cluster-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "cluster:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(tmp)
		*dir = tmp
	}
	self, err := os.Executable()
	if err == nil {
		err = run(os.Stdout, self, *dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// nodeConfig is what a node process is told.
type nodeConfig struct {
	ID      uint64            `json:"id"`
	Members map[uint64]string `json:"members"` // Raft addresses
	Raft    string            `json:"raft"`    // Raft data
	Backing string            `json:"backing"` // the directory the mount serves and the watcher watches
	Mount   string            `json:"mount"`
	Audit   string            `json:"audit"` // the file node 3's rule appends to
}

// msg is one line a node process writes to the driver.
type msg struct {
	Type     string `json:"type"` // ready, event, fired, consumed, stopped
	Node     uint64 `json:"node"`
	PID      int    `json:"pid,omitempty"` // ready: the node's
	Kind     string `json:"kind,omitempty"`
	Path     string `json:"path,omitempty"`
	Boundary string `json:"boundary,omitempty"`
	Seen     string `json:"seen,omitempty"`
	EvPID    uint32 `json:"evpid,omitempty"`
	Trace    string `json:"trace,omitempty"`
	Shard    int    `json:"shard,omitempty"`
	Index    uint64 `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
}

func eventMsg(typ string, node uint64, ev *semevent.Event) msg {
	return msg{Type: typ, Node: node, Kind: ev.Kind.String(), Path: ev.Path, Boundary: ev.Boundary.String(),
		Seen: strings.ReplaceAll(ev.Seen.String(), "|", "+"), EvPID: ev.PID, Trace: ev.Trace.String(), ID: ev.ID.String()}
}

// ---- the node process ----

// runNode runs one node until its stdin closes, reporting on out.
func runNode(cfgJSON string, in io.Reader, out io.Writer) error {
	var cfg nodeConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("%s: %w", envNode, err)
	}
	var outMu sync.Mutex // guards enc
	enc := json.NewEncoder(out)
	say := func(m msg) {
		outMu.Lock()
		defer outMu.Unlock()
		enc.Encode(m)
	}
	quiet := slog.New(slog.DiscardHandler)

	// Raft: every node waits in New for the others.
	c, err := raft.New(&raft.Options{Node: cfg.ID, Dir: cfg.Raft, Members: cfg.Members, Logger: quiet, StartTimeout: 2 * time.Minute})
	if err != nil {
		return err
	}
	defer c.Close(context.Background())

	// The bus: replicated, folding the FUSE and kernel sightings of one
	// operation before it replicates the event.
	bus, err := propagation.New(&propagation.Options{
		Coordinator: c,
		Durability:  propagation.Replicated,
		Dedup:       fusebridge.DedupOptions(0),
		Logger:      quiet,
	})
	if err != nil {
		return err
	}
	defer bus.Close(context.Background())

	txt := filter.Func(func(ev *semevent.Event) bool {
		return strings.HasSuffix(ev.Path, ".txt") && (ev.Kind == semevent.KindFileCreate || ev.Kind == semevent.KindFileWrite)
	})
	// What this node's subscribers see, live.
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		say(eventMsg("event", cfg.ID, ev))
		return nil
	}), &propagation.SubscribeOptions{Name: "reporter", Filter: txt}); err != nil {
		return err
	}
	// A durable consumer over the replicated log: after a restart it
	// resumes from the offsets Raft's state machine keeps for it.
	if _, err := bus.Subscribe(semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		m := eventMsg("consumed", cfg.ID, ev)
		if p, ok := propagation.ReplicatedPosition(ctx); ok {
			m.Shard, m.Index = p.Shard, p.Index
		}
		say(m)
		return nil
	}), &propagation.SubscribeOptions{Name: "audit", Filter: txt,
		Replay: &propagation.Replay{Replicated: true, Consumer: "audit"}}); err != nil {
		return err
	}
	// Node 3's automation: a rule over remote writes of text files.
	if cfg.ID == 3 {
		eng, err := rules.New(&rules.RuleSet{Rules: []rules.Rule{{
			Name:  "remote-report",
			Kinds: []semevent.Kind{semevent.KindFileWrite},
			When:  `Boundary == "remote" && Path endsWith ".txt"`,
			Then:  []rules.ActionRef{{Action: "audit"}},
		}}}, &rules.Options{Actions: map[string]rules.ActionFunc{"audit": func(ctx context.Context, f *rules.Firing) error {
			line := fmt.Sprintf("%s written on another node by pid %d (trace %s)\n", f.Event.Path, f.Event.PID, f.Event.Trace.TraceID)
			fd, err := os.OpenFile(cfg.Audit, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			_, err = fd.WriteString(line)
			if cerr := fd.Close(); err == nil {
				err = cerr
			}
			say(eventMsg("fired", cfg.ID, f.Event))
			return err
		}}})
		if err != nil {
			return err
		}
		defer eng.Close(context.Background())
		if _, err := bus.Subscribe(eng, &propagation.SubscribeOptions{Name: "rules"}); err != nil {
			return err
		}
	}

	// The FUSE side, with the writer's trace context, and the kernel side.
	bridge, err := fusebridge.New(bus, &fusebridge.Options{Annotate: newTracer().annotate, Logger: quiet})
	if err != nil {
		return err
	}
	defer bridge.Close(context.Background())
	root, err := bridge.NewLoopbackRoot(cfg.Backing)
	if err != nil {
		return err
	}
	w, err := fusebridge.NewWatcher(bus, cfg.Backing, &fusebridge.WatcherOptions{ServerPID: os.Getpid(), Logger: quiet})
	if err != nil {
		return err
	}
	defer w.Close(context.Background())
	m, err := fusebridge.MountFS(cfg.Mount, root, &fusebridge.MountOptions{FsName: fmt.Sprint("semevent-node", cfg.ID)})
	if err != nil {
		return err
	}
	say(msg{Type: "ready", Node: cfg.ID, PID: os.Getpid()})

	io.Copy(io.Discard, in) // until the driver closes our stdin
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = m.Close(ctx)
	say(msg{Type: "stopped", Node: cfg.ID})
	return err
}

// tracer gives FUSE events the trace context of the process that caused
// them, from the TRACEPARENT in its environment. It remembers the last
// 1024 pids (an operation's write session ends after its process may have
// exited).
type tracer struct {
	mu    sync.Mutex // guards byPID
	byPID map[uint32]semevent.TraceContext
}

func newTracer() *tracer { return &tracer{byPID: make(map[uint32]semevent.TraceContext)} }

func (t *tracer) annotate(_ context.Context, ev *semevent.Event) {
	if ev.PID == 0 || ev.Trace.IsValid() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tc, ok := t.byPID[ev.PID]
	if !ok {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", ev.PID))
		for kv := range strings.SplitSeq(string(env), "\x00") {
			if v, found := strings.CutPrefix(kv, "TRACEPARENT="); found {
				tc, _ = semevent.ParseTraceParent(v)
			}
		}
		if len(t.byPID) >= 1024 {
			clear(t.byPID)
		}
		t.byPID[ev.PID] = tc
	}
	ev.Trace = tc
}

// ---- the driver ----

// proc is one running node process.
type proc struct {
	cfg  nodeConfig
	cmd  *exec.Cmd
	in   io.WriteCloser
	pid  int
	done chan struct{} // closed when its output ends
}

// driver starts the node processes and collects what they report.
type driver struct {
	self    string
	w       io.Writer
	procs   [3]*proc
	msgs    chan msg
	pending []msg // reports no wait has taken yet, in arrival order
}

func freeAddr() (string, error) {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free port on 127.0.0.1")
}

// run is the whole story; self is the program to re-execute as nodes.
func run(w io.Writer, self, dir string) (err error) {
	if err := fusebridge.Available(); err != nil {
		return fmt.Errorf("this example mounts FUSE file systems: %w", err)
	}
	d := &driver{self: self, w: w, msgs: make(chan msg, 1024)}
	members := map[uint64]string{}
	for id := uint64(1); id <= 3; id++ {
		if members[id], err = freeAddr(); err != nil {
			return err
		}
	}
	var cfgs [3]nodeConfig
	for i := range cfgs {
		nd := filepath.Join(dir, fmt.Sprint("node", i+1))
		cfgs[i] = nodeConfig{ID: uint64(i + 1), Members: members, Raft: filepath.Join(nd, "raft"),
			Backing: filepath.Join(nd, "data"), Mount: filepath.Join(nd, "mnt"), Audit: filepath.Join(nd, "audit.log")}
		for _, p := range []string{cfgs[i].Backing, cfgs[i].Mount} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		}
	}
	defer d.killAll()
	for i := range cfgs {
		if err := d.start(cfgs[i]); err != nil {
			return err
		}
	}
	for range 3 {
		if _, err := d.wait("all three nodes to start", func(m msg) bool { return m.Type == "ready" }); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "started 3 node processes (pids %d, %d, %d): each serves its own directory through a FUSE mount, watches it with the kernel watcher, and replicates its bus through Raft on %s, %s, %s\n",
		d.procs[0].pid, d.procs[1].pid, d.procs[2].pid, members[1], members[2], members[3])

	// 1. A traced process writes a file through node 1's mount.
	trace := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	pid, err := writeThrough(cfgs[0].Mount, "report.txt", "quarterly numbers\n", trace)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "a process (pid %d, trace %s) wrote report.txt through node 1's mount\n", pid, trace[3:35])
	isWrite := func(node uint64, path string) func(m msg) bool {
		return func(m msg) bool {
			return m.Type == "event" && m.Node == node && m.Kind == "write" && m.Path == path
		}
	}
	m1, err := d.wait("node 1's event", isWrite(1, "/report.txt"))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "node 1 saw the write at the %s boundary (seen by %s), pid %d, trace %s, and committed it through Raft\n",
		m1.Boundary, m1.Seen, m1.EvPID, traceID(m1.Trace))
	for _, n := range []uint64{2, 3} {
		m, err := d.wait(fmt.Sprintf("node %d's event", n), isWrite(n, "/report.txt"))
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "node %d received it as a %s event (seen by %s), with the writer's pid %d and trace %s\n",
			n, m.Boundary, m.Seen, m.EvPID, traceID(m.Trace))
		if m.Boundary != "remote" || m.EvPID != uint32(pid) || m.Trace != traceContext(trace) || m.ID != m1.ID {
			return fmt.Errorf("node %d: got %+v, want the same event (%s) as Remote with pid %d and trace %s", n, m, m1.ID, pid, trace)
		}
	}
	f, err := d.wait("node 3's rule", func(m msg) bool { return m.Type == "fired" && m.Path == "/report.txt" })
	if err != nil {
		return err
	}
	audit, _ := os.ReadFile(cfgs[2].Audit)
	fmt.Fprintf(w, "node 3's rule \"remote-report\" reacted to the remote write of %s; its audit log now reads: %s", f.Path, audit)

	// 2. Node 2's durable consumer has the event; then node 2 is killed.
	c2, err := d.wait("node 2's durable consumer", func(m msg) bool {
		return m.Type == "consumed" && m.Node == 2 && m.Kind == "write" && m.Path == "/report.txt"
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "node 2's durable consumer \"audit\" handled it at shard %d, index %d\n", c2.Shard, c2.Index)
	time.Sleep(time.Second) // the consumer commits its offset about 100ms after going idle
	if err := d.kill(2); err != nil {
		return err
	}
	fmt.Fprintf(w, "killed node 2 (pid %d) with SIGKILL, and detached its abandoned mount\n", d.procs[1].pid)

	// 3. Two files written while node 2 is down reach node 3.
	missed := []string{"notes.txt", "todo.txt"}
	for _, name := range missed {
		if _, err := writeThrough(cfgs[0].Mount, name, "written while node 2 was down\n", trace); err != nil {
			return err
		}
		if _, err := d.wait("node 3's event for "+name, isWrite(3, "/"+name)); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "wrote %s through node 1 while node 2 was down: nodes 1 and 3 are a quorum, node 3 received both\n", strings.Join(missed, " and "))

	// 4. Node 2 restarts from its own disk and catches up.
	d.forget(func(m msg) bool { return m.Node == 2 })
	if err := d.start(cfgs[1]); err != nil {
		return err
	}
	if _, err := d.wait("node 2 to restart", func(m msg) bool { return m.Type == "ready" && m.Node == 2 }); err != nil {
		return err
	}
	var first *msg
	for _, name := range missed {
		m, err := d.wait("node 2's consumer to catch up with "+name, func(m msg) bool {
			return m.Type == "consumed" && m.Node == 2 && m.Kind == "write" && m.Path == "/"+name
		})
		if err != nil {
			return err
		}
		if first == nil {
			first = &m
		}
	}
	var again []string // what node 2's consumer got again since its restart
	for _, m := range d.pending {
		if m.Type == "consumed" && m.Node == 2 && m.Path == "/report.txt" {
			again = append(again, m.Kind+" "+m.Path)
		}
	}
	fmt.Fprintf(w, "restarted node 2 (pid %d) from its disk: its durable consumer resumed from its committed offset and caught up with the 2 writes it missed (the first at shard %d, index %d)",
		d.procs[1].pid, first.Shard, first.Index)
	if len(again) == 0 {
		fmt.Fprintln(w, "; nothing it had handled before the kill came again")
	} else {
		fmt.Fprintf(w, "; %d events handled before the kill came again (at least once since the last committed offset): %s\n", len(again), strings.Join(again, ", "))
	}

	// 5. Stop.
	if err := d.stopAll(); err != nil {
		return err
	}
	fmt.Fprintln(w, "stopped the 3 nodes and unmounted their file systems")
	return nil
}

// writeThrough writes content to name under mount from a child process
// whose environment carries TRACEPARENT=trace, and returns its pid.
func writeThrough(mount, name, content, trace string) (int, error) {
	cmd := exec.Command("sh", "-c", `printf '%s' "$CONTENT" > "$TARGET"`)
	cmd.Env = append(os.Environ(), "TRACEPARENT="+trace, "CONTENT="+content, "TARGET="+filepath.Join(mount, name))
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("writing %s through %s: %v: %s", name, mount, err, out)
	}
	return cmd.Process.Pid, nil
}

// traceContext returns the String form of a traceparent header.
func traceContext(traceparent string) string {
	tc, err := semevent.ParseTraceParent(traceparent)
	if err != nil {
		return ""
	}
	return tc.String()
}

// traceID returns the trace id part of a TraceContext's String form.
func traceID(tc string) string {
	if parts := strings.Split(tc, "-"); len(parts) == 4 {
		return parts[1]
	}
	return tc
}

// start starts node cfg.ID's process and a goroutine reading its reports.
func (d *driver) start(cfg nodeConfig) error {
	js, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	cmd := exec.Command(d.self)
	cmd.Env = append(os.Environ(), envNode+"="+string(js))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &proc{cfg: cfg, cmd: cmd, in: in, pid: cmd.Process.Pid, done: make(chan struct{})}
	d.procs[cfg.ID-1] = p
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m msg
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				d.msgs <- m
			}
		}
	}()
	return nil
}

// wait returns (and takes) the first report that ok accepts, within two
// minutes (elections and FUSE on a loaded machine can be slow); the
// others stay for later waits.
func (d *driver) wait(what string, ok func(m msg) bool) (msg, error) {
	for i, m := range d.pending {
		if ok(m) {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			return m, nil
		}
	}
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case m := <-d.msgs:
			if ok(m) {
				return m, nil
			}
			d.pending = append(d.pending, m)
		case <-timeout:
			return msg{}, fmt.Errorf("waited two minutes for %s; other reports: %+v", what, d.pending)
		}
	}
}

// forget drops the reports not taken yet that match.
func (d *driver) forget(match func(m msg) bool) {
	for {
		select {
		case m := <-d.msgs:
			d.pending = append(d.pending, m)
			continue
		default:
		}
		break
	}
	d.pending = slices.DeleteFunc(d.pending, match)
}

// kill SIGKILLs node id and detaches the mount it leaves behind.
func (d *driver) kill(id int) error {
	p := d.procs[id-1]
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	p.cmd.Wait()
	<-p.done
	if err := syscall.Unmount(p.cfg.Mount, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("detaching node %d's mount: %w", id, err)
	}
	return nil
}

// stopAll closes every node's stdin, which stops it cleanly.
func (d *driver) stopAll() error {
	for _, p := range d.procs {
		if p != nil {
			p.in.Close()
		}
	}
	var errs []error
	for _, p := range d.procs {
		if p == nil {
			continue
		}
		timer := time.AfterFunc(time.Minute, func() { p.cmd.Process.Kill() })
		if err := p.cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("node %d: %w", p.cfg.ID, err))
		}
		timer.Stop()
		<-p.done
	}
	d.procs = [3]*proc{}
	return errors.Join(errs...)
}

// killAll kills the node processes still running (after an error) and
// detaches their mounts.
func (d *driver) killAll() {
	for i, p := range d.procs {
		if p != nil && p.cmd.ProcessState == nil {
			d.kill(i + 1)
		}
	}
}
