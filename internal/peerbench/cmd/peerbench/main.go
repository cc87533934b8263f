// Command peerbench runs the side-by-side benchmarks of package peerbench
// several times, takes the median of every figure and writes BENCHMARKS.md
// at the repository root.
//
// Run it from internal/peerbench:
//
//	go run ./cmd/peerbench
//
// Flags: -count (runs of each benchmark, default 3), -out (default
// ../../BENCHMARKS.md), -raw (also keep the raw go test output in a file),
// -from (write BENCHMARKS.md from the raw files of earlier runs instead of
// running anything), -only (comma-separated workloads: propagation,
// latency, routing, conditions, consensus, replicated, and the main
// module's cep, windows, fuse, idle: see local.go).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A workload is one benchmark function and how long to run it.
type workload struct {
	key       string // propagation, routing, ...
	bench     string // go test -bench regexp
	benchtime string
}

var workloads = []workload{
	{"propagation", "^BenchmarkPropagation$", "500ms"},
	{"latency", "^BenchmarkPropagationLatency$", "10000x"},
	{"routing", "^BenchmarkRouting$", "1s"},
	{"conditions", "^BenchmarkConditions$", "1s"},
	// Fixed counts: a cluster answers in milliseconds, and a 1s target
	// would spend most of the run calibrating.
	{"consensus", "^BenchmarkConsensus$", "2000x"},
	// 1000 events per publisher; every run starts fresh clusters.
	{"replicated", "^BenchmarkReplicated$", "64000x"},
}

func main() {
	count := flag.Int("count", 3, "runs of each benchmark; the tables show medians")
	out := flag.String("out", "../../BENCHMARKS.md", "the Markdown file to write")
	raw := flag.String("raw", "", "also write the raw go test output to this file")
	from := flag.String("from", "", "write BENCHMARKS.md from the raw output of earlier runs (comma-separated files; a later file's runs of a benchmark replace an earlier one's) instead of running anything")
	only := flag.String("only", "", "comma-separated workloads to run (default all)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("peerbench: ")

	if b, err := os.ReadFile("go.mod"); err != nil || !bytes.Contains(b, []byte("module github.com/vexfs/semevent/internal/peerbench\n")) {
		log.Fatal("run me from internal/peerbench: cd internal/peerbench && go run ./cmd/peerbench")
	}
	var output bytes.Buffer
	machine := describeMachine()
	fmt.Fprintf(&output, "peerbench-machine\t%s\npeerbench-count\t%d\n", machine, *count)
	if *from != "" {
		// Several files: a later file's runs of a benchmark replace an
		// earlier file's (a rerun of one workload over a full run).
		var res *results
		for _, f := range strings.Split(*from, ",") {
			b, err := os.ReadFile(f)
			if err != nil {
				log.Fatal(err)
			}
			res = res.overlay(parse(b))
		}
		write(res, res.machine, res.count, *out)
		return
	}
	notes, err := goTest(io.Discard, "-run", "^TestNotes$", "-v", "-count=1")
	if err != nil {
		log.Fatal(err)
	}
	output.Write(notes)
	for _, w := range workloads {
		if *only != "" && !slices.Contains(strings.Split(*only, ","), w.key) {
			continue
		}
		log.Printf("%s: -benchtime=%s -count=%d", w.key, w.benchtime, *count)
		b, err := goTest(os.Stderr, "-run", "^$", "-bench", w.bench, "-benchtime", w.benchtime,
			"-count", strconv.Itoa(*count), "-timeout", "60m")
		output.Write(b)
		if err != nil {
			// Keep what did run; the document lists the failure.
			log.Printf("%s: %v", w.key, err)
			fmt.Fprintf(&output, "peerbench-failed\t%s\t%v\n", w.key, err)
		}
	}
	output.Write(runLocal(*count, *only))
	output.Write(runMemory(*only))
	if *raw != "" {
		if err := os.WriteFile(*raw, output.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	write(parse(output.Bytes()), machine, *count, *out)
}

func write(res *results, machine string, count int, out string) {
	if err := os.WriteFile(out, []byte(render(res, machine, count)), 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", out)
}

// overlay returns r with o's benchmarks, notes and failures added, o's
// runs of a benchmark replacing r's. A nil r is o.
func (r *results) overlay(o *results) *results {
	if r == nil {
		return o
	}
	for name, runs := range o.runs {
		r.runs[name] = runs
	}
	for g, m := range o.notes {
		if r.notes[g] == nil {
			r.notes[g] = make(map[string]string)
		}
		for k, v := range m {
			r.notes[g][k] = v
		}
	}
	r.failed = append(r.failed, o.failed...)
	// Name every run, so that no table is read as measured under another
	// run's load.
	if o.machine != "" && o.machine != r.machine {
		if !strings.HasPrefix(r.machine, "several runs") {
			r.machine = "several runs, a later run's benchmarks replacing an earlier one's: " + r.machine
		}
		r.machine += "; then " + o.machine
	}
	return r
}

// goTest runs go test in the current directory with PEERBENCH_NOTES set,
// copying its output to echo, and returns the output.
func goTest(echo io.Writer, args ...string) ([]byte, error) {
	cmd := exec.Command("go", append([]string{"test"}, append(args, ".")...)...)
	cmd.Env = append(os.Environ(), "PEERBENCH_NOTES=1")
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, echo)
	cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
	err := cmd.Run()
	return buf.Bytes(), err
}

// describeMachine says what the figures were measured on.
func describeMachine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	gover := runtime.Version()
	if b, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil {
		gover = strings.TrimSpace(string(b))
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			load = fmt.Sprintf("; load average at start %s %s %s", f[0], f[1], f[2])
		}
	}
	return fmt.Sprintf("%d cores (%s), %s/%s, %s, %s%s", runtime.NumCPU(), cpu, runtime.GOOS, runtime.GOARCH, gover,
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), load)
}

// results holds every run of every benchmark, by name without the
// -GOMAXPROCS suffix, and the contenders' notes.
type results struct {
	runs    map[string][]map[string]float64
	notes   map[string]map[string]string // group → contender → note
	machine string
	count   int
	failed  []string // "workload: error"
}

func parse(b []byte) *results {
	r := &results{runs: make(map[string][]map[string]float64), notes: make(map[string]map[string]string)}
	sc := bufio.NewScanner(bytes.NewReader(joinBenchLines(b)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "peerbench-note\t"); ok {
			f := strings.SplitN(rest, "\t", 3)
			if len(f) == 3 {
				if r.notes[f[0]] == nil {
					r.notes[f[0]] = make(map[string]string)
				}
				r.notes[f[0]][f[1]] = f[2]
			}
			continue
		}
		if rest, ok := strings.CutPrefix(line, "peerbench-failed\t"); ok {
			w, err, _ := strings.Cut(rest, "\t")
			r.failed = append(r.failed, w+": "+err)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "peerbench-count\t"); ok {
			r.count, _ = strconv.Atoi(rest)
			continue
		}
		if rest, ok := strings.CutPrefix(line, "peerbench-machine\t"); ok {
			r.machine = rest
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || len(f)%2 != 0 {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		m := make(map[string]float64)
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			m[f[i+1]] = v
		}
		r.runs[name] = append(r.runs[name], m)
	}
	return r
}

// median returns the median of metric unit over the runs of name, and
// whether there was any.
func (r *results) median(name, unit string) (float64, bool) {
	var vs []float64
	for _, m := range r.runs[name] {
		if v, ok := m[unit]; ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, false
	}
	sort.Float64s(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2], true
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2, true
}

func (r *results) has(name string) bool { return len(r.runs[name]) > 0 }

// cell formats the median of a metric, or "–".
func (r *results) cell(name, unit string, format func(float64) string) string {
	v, ok := r.median(name, unit)
	if !ok {
		return "–"
	}
	return format(v)
}

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func nanos(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f µs", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f ns", v)
	default:
		return fmt.Sprintf("%.1f ns", v)
	}
}

func plain(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// versus says how semevent compares with a contender, from the contender's
// cost and semevent's (ns per event, or latency): "2.3× faster" when
// semevent's cost is lower, "**1.4× slower**" when it is higher.
func versus(contender, semevent float64) string {
	if contender <= 0 || semevent <= 0 {
		return "–"
	}
	x := contender / semevent
	switch {
	case x >= 1.05:
		return fmt.Sprintf("%s× faster", ratio(x))
	case x <= 1/1.05:
		return fmt.Sprintf("**%s× slower**", ratio(1/x))
	default:
		return "same (within 5%)"
	}
}

func ratio(x float64) string {
	if x >= 10 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// consensusPairs compares like with like: the peers that keep their log in
// memory with semevent on tmpfs, the one that keeps it on disk with semevent
// on disk.
var consensusPairs = map[string]string{
	"hashicorp-inmem": "semevent-tmpfs",
	"hashicorp-tcp":   "semevent-tmpfs",
}

// headline lists the peers the summary compares semevent with.
var headline = map[string]bool{
	"nats": true, "watermill": true, "eventbus-async": true,
	"expr": true, "cel-go": true,
	"hashicorp-tcp": true, "hashicorp-tcp-bolt": true,
	"hashicorp-bolt": true, "jetstream": true, "jetstream-nomsgid": true, "jetstream-sync": true,
}

// A loss is a row where semevent is slower than a peer (not a floor).
type loss struct {
	workload, row, ref, by string
	lost                   bool // semevent is slower
}

type table struct {
	title    string
	intro    string            // a paragraph under the title
	group    string            // notes group
	prefix   string            // benchmark name prefix, ending in '/'
	semevent string            // the semevent row the ratios refer to
	pairs    map[string]string // rows compared with another semevent row than semevent
	floors   []string          // rows that are floors, not peers
	cols     []column
	cost     string // unit of cost the ratio compares; default "ns/op"
	costName string // its column head; default "ns/event"
}

type column struct {
	head   string
	unit   string
	format func(float64) string
}

func render(r *results, machine string, count int) string {
	var b strings.Builder
	var losses []loss
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Benchmarks: semevent side by side with its alternatives\n\n")
	p("Generated by `internal/peerbench/cmd/peerbench`; do not edit by hand. Regenerate with:\n\n")
	p("```sh\ncd internal/peerbench && go run ./cmd/peerbench\n```\n\n")
	p("Machine: %s.\n\n", machine)
	for _, f := range r.failed {
		p("**Failed in this run:** %s (see the raw output; its tables hold only the runs that completed).\n\n", f)
	}
	p("Every figure is the median of %d runs (`go test -bench -count=%d`). The machine is shared with other work (see its load average above), so absolute figures are noisy; the ratios between rows of one table, measured in the same run, are what to read. ", count, count)
	p("\"vs semevent\" says how semevent compares with the row: *2.0× faster* means semevent does the same work in half the time; **slower** rows are where semevent loses. Floor rows (bare channels, a hand-written closure) do less than a library and are there to show the cost of the library, not as peers.\n\n")
	p("The benchmarks are in `internal/peerbench`, a Go module of its own, so none of these peers enters semevent's dependency graph. `go test ./...` there checks that every harness delivers, routes and decides exactly as the others do.\n\n")

	var (
		eventsPS = column{"events/s", "events/s", rate}
		nsEvent  = column{"ns/event", "ns/op", nanos}
		allocs   = column{"allocs/event", "allocs/op", plain}
		bytesEv  = column{"B/event", "B/op", plain}
		p50, p99 = column{"p50", "p50-ns", nanos}, column{"p99", "p99-ns", nanos}
		evCols   = []column{eventsPS, {"deliveries/s", "deliveries/s", rate}, nsEvent, allocs, bytesEv}
	)
	p("## Propagation\n\n")
	p("P publishers × S subscribers; every subscriber receives every event (nothing dropped: contenders without backpressure of their own are held to a window of 4096 events in flight per subscriber, so that NATS does not cut off a slow consumer and watermill does not grow a goroutine per message). The event carries a 64-byte payload: semevent and the channels pass a `*semevent.Event` holding it, NATS and watermill carry it as the message body. ns/event is publisher-side time per published event, until the last delivery.\n\n")
	for _, shape := range []string{"1x1", "1x4", "4x4"} {
		losses = append(losses, renderTable(&b, r, table{
			title: fmt.Sprintf("%s → %s", strings.Split(shape, "x")[0], strings.Split(shape, "x")[1]),
			group: "propagation", prefix: "BenchmarkPropagation/" + shape + "/", semevent: "semevent",
			floors: []string{"chan"}, cols: evCols,
		})...)
	}

	latIntro := ("One publisher sends an event every 50 µs, each with its own payload stamped with the time; the subscriber's handler records how long after publishing it ran. eventbus-sync is left out: its handler runs inside Publish. On a loaded machine the tail (p99) mostly measures how soon the OS runs a woken thread, and varies from run to run far more than the throughput tables. Contenders whose publisher parks until the handler is done (watermill-ack, eventbus-async) hand the processor straight to the handler, which favours them here while it caps their throughput above.\n\n")
	losses = append(losses, renderTable(&b, r, table{
		title: "1 → 1 latency at 20k events/s", intro: latIntro,
		group: "propagation", prefix: "BenchmarkPropagationLatency/1x1/", semevent: "semevent",
		floors: []string{"chan"},
		cols:   []column{p50, p99, allocs},
		cost:   "p50-ns", costName: "p50",
	})...)

	p("## Routing\n\n")
	p("Subject matching: N subscriptions with NATS subjects (ten per tenant: literals, `*` first and in the middle, `>` tails), events cycling through 4096 subjects of those tenants (writes, reads, creates, closes); every contender finds the same 4.19 subscriptions per event on average. semevent routes with one subject rule per subscription, each to its own destination. NATS's subscription list (`server.Sublist`) takes the server's unexported subscription type, so the subscriptions are made over a real in-process connection and the account's sublist is read by reflection; `Match` is then called directly, as the server does for every published message.\n\n")
	for _, n := range []string{"1k", "10k"} {
		losses = append(losses, renderTable(&b, r, table{
			title: n + " subscriptions", group: "routing", prefix: "BenchmarkRouting/subs=" + n + "/", semevent: "semevent",
			cols: []column{eventsPS, nsEvent, {"matches/event", "matches/op", plain}, allocs},
		})...)
	}

	p("## Conditions\n\n")
	p("The condition `Kind == \"write\" && Size > 4096 && Path startsWith \"/data/\"` (in CEL: `kind == \"write\" && size > 4096 && path.startsWith(\"/data/\")`) over a cycle of 1024 events, about a third of which match; every contender decides every event as the hand-written closure does.\n\n")
	losses = append(losses, renderTable(&b, r, table{
		title: "", group: "conditions", prefix: "BenchmarkConditions/", semevent: "semevent-expr",
		floors: []string{"closure"},
		cols:   []column{eventsPS, nsEvent, allocs, bytesEv},
	})...)
	p("The ratios compare with semevent's expr filter (`semevent-expr`), the contender users of expr or CEL would pick; `semevent-typed` and `semevent-expr-vm` are semevent's other two ways of evaluating the same condition.\n\n")

	p("## Consensus\n\n")
	p("A 3-node cluster in one process; events appended through the leader, each returning once committed by a majority. latency: one append at a time (p50, p99 and mean). throughput: 64 goroutines appending at once, which each contender may batch. The appended event is the propagation event; hashicorp/raft's caller encodes it with semevent's codec (coord/raft encodes inside Append), and its state machine keeps each record in memory, as coord/raft's does.\n\n")
	p("The ratios compare like with like: hashicorp/raft with its log in memory against semevent with its Raft directories on tmpfs (so that fsync and disk writes cost nothing), hashicorp/raft with raft-boltdb on disk against semevent on disk (`os.TempDir()`). hashicorp/raft is measured with its default timeouts; an append that meets a leader change is retried on the new leader, as coord/raft retries inside Append (hashicorp/raft has no exactly-once session, so such a retry may append twice).\n\n")
	semRaft := r.has("BenchmarkConsensus/latency/semevent")
	if !semRaft {
		p("**semevent coord/raft: not yet available** when this was generated, so the consensus tables have no semevent row and no ratios.\n\n")
	}
	losses = append(losses, renderTable(&b, r, table{
		title: "Append latency", group: "consensus", prefix: "BenchmarkConsensus/latency/", semevent: "semevent", pairs: consensusPairs,
		cols: []column{p50, p99, {"mean", "ns/op", nanos}, {"appends/s", "events/s", rate}, {"allocs/append", "allocs/op", plain}},
		cost: "p50-ns", costName: "p50",
	})...)
	losses = append(losses, renderTable(&b, r, table{
		title: "Append throughput, 64 writers", group: "consensus", prefix: "BenchmarkConsensus/throughput/", semevent: "semevent", pairs: consensusPairs,
		cols: []column{eventsPS, nsEvent, allocs, bytesEv},
	})...)

	p("## Replicated publish\n\n")
	p("What a cluster of event publishers does: 3 replicas on 127.0.0.1 with their logs on disk (a fresh `b.TempDir()` per run), %d publishers each publishing one event at a time and waiting until a quorum has committed it. The event is what a kernel watcher sends: a write with its path (60 bytes), pid, uid/gid, inode, offset and size, a W3C trace context and two attributes, with a new ID each time; the peers' callers encode it with semevent's codec. events/s counts committed events; p50 and p99 are publish-to-commit latencies; CPU/event (user + system time of the process) and allocations count the whole process, all three replicas included. On a loaded machine events/s and latency mostly say how much CPU the other processes left; CPU/event changes least with the load. Every contender keeps its default timeouts and batching. semevent-bus is the same cluster behind the bus (`propagation.Options{Coordinator, Durability: Replicated}`), one bus and one subscriber per node: its events also reach every node's subscriber.\n\n", 64)
	losses = append(losses, renderTable(&b, r, table{
		title: "", group: "replicated", prefix: "BenchmarkReplicated/", semevent: "semevent",
		cols: []column{eventsPS, p50, p99, {"CPU/event", "cpu-ns/event", nanos}, allocs, bytesEv},
	})...)
	renderReplicatedGoals(&b, r)
	renderMemory(&b, r)

	losses = append(losses, renderLocal(&b, r)...)

	p("## Where semevent loses\n\n")
	lost := 0
	for _, l := range losses {
		if l.lost && l.by != "–" {
			p("- %s: %s is %s than %s.\n", l.workload, l.ref, l.by, l.row)
			lost++
		}
	}
	if lost == 0 {
		p("Nowhere in this run: semevent was faster than, or within 5%% of, every peer.\n")
	}

	var sum strings.Builder
	sum.WriteString("## Summary\n\n")
	for _, l := range losses {
		if headline[l.row] && !strings.Contains(l.workload, "latency at") && l.by != "–" {
			by := l.by
			if l.lost {
				by = "**" + by + "**"
			}
			if strings.HasPrefix(by, "same") {
				fmt.Fprintf(&sum, "- %s: %s is level with %s (within 5%%).\n", l.workload, l.ref, l.row)
			} else {
				fmt.Fprintf(&sum, "- %s: %s is %s than %s.\n", l.workload, l.ref, by, l.row)
			}
		}
	}
	sum.WriteString("\n")
	doc := b.String()
	i := strings.Index(doc, "## Propagation")
	return doc[:i] + sum.String() + doc[i:]
}

// renderTable writes one table and returns the rows where semevent loses.
func renderTable(b *strings.Builder, r *results, t table) []loss {
	if t.cost == "" {
		t.cost, t.costName = "ns/op", "ns/event"
	}
	var rows []string
	for name := range r.runs {
		if row, ok := strings.CutPrefix(name, t.prefix); ok && !strings.Contains(row, "/") {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	// semevent's rows first, then by cost.
	sort.Slice(rows, func(i, j int) bool {
		si, sj := strings.HasPrefix(rows[i], "semevent"), strings.HasPrefix(rows[j], "semevent")
		if si != sj {
			return si
		}
		ci, _ := r.median(t.prefix+rows[i], t.cost)
		cj, _ := r.median(t.prefix+rows[j], t.cost)
		return ci < cj
	})
	if t.title != "" {
		fmt.Fprintf(b, "### %s\n\n", t.title)
	}
	b.WriteString(t.intro)
	b.WriteString("| contender |")
	for _, c := range t.cols {
		fmt.Fprintf(b, " %s |", c.head)
	}
	fmt.Fprintf(b, " vs semevent (%s) | what it is |\n|---|", t.costName)
	for range t.cols {
		b.WriteString("---:|")
	}
	b.WriteString("---|---|\n")
	var losses []loss
	for _, row := range rows {
		name := t.prefix + row
		fmt.Fprintf(b, "| %s |", row)
		for _, c := range t.cols {
			fmt.Fprintf(b, " %s |", r.cell(name, c.unit, c.format))
		}
		vs := "–"
		ref := t.semevent
		if p, ok := t.pairs[row]; ok {
			ref = p
		}
		sem, semOK := r.median(t.prefix+ref, t.cost)
		switch {
		case row == t.semevent:
			vs = "(reference)"
		case !semOK:
			vs = "n/a"
		default:
			cost, _ := r.median(name, t.cost)
			vs = versus(cost, sem)
			by := strings.ReplaceAll(vs, "*", "")
			if ref != t.semevent {
				vs += " (" + ref + ")"
			}
			if slices.Contains(t.floors, row) {
				vs = strings.Trim(vs, "*") + " (floor)"
			} else if strings.HasPrefix(row, "semevent") {
				vs = strings.Trim(vs, "*") + " (semevent variant)"
			} else {
				title := t.title
				if title == "" {
					title = t.group
				} else {
					title = t.group + " " + title
				}
				losses = append(losses, loss{title, row, ref, by, strings.HasPrefix(vs, "**")})
			}
		}
		fmt.Fprintf(b, " %s | %s |\n", vs, r.notes[t.group][row])
	}
	b.WriteString("\n")
	return losses
}

// renderReplicatedGoals says whether semevent's replicated publish meets
// the goals issue 13 set: ≥ 100k events/s, p99 < 10 ms, ≥ 2× JetStream;
// for coord/raft's Append (semevent) and for the bus (semevent-bus).
func renderReplicatedGoals(b *strings.Builder, r *results) {
	const prefix = "BenchmarkReplicated/"
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	for _, row := range []string{"semevent", "semevent-bus"} {
		eps, ok := r.median(prefix+row, "events/s")
		if !ok {
			continue
		}
		p99, _ := r.median(prefix+row, "p99-ns")
		fmt.Fprintf(b, "Goals of issue 13 for %s: ≥ 100k events/s — %s (%s); p99 < 10 ms — %s (%s)", row, met(eps >= 100e3), rate(eps), met(p99 < 10e6), nanos(p99))
		for _, js := range []string{"jetstream", "jetstream-nomsgid"} {
			if v, ok := r.median(prefix+js, "events/s"); ok && v > 0 {
				fmt.Fprintf(b, "; ≥ 2× %s's events/s — %s (%.2f×)", js, met(eps >= 2*v), eps/v)
			}
		}
		b.WriteString(".\n\n")
	}
}
