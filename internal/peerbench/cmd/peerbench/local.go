package main

// Benchmarks of the main module that measure semevent against a naive
// baseline or a floor in the same run: CEP at scale, windowed
// aggregation, FUSE capture overhead and the bus's idle CPU. They live
// beside the code they measure (the peers' module is not needed), so they
// run with go test in the repository root; their output is parsed like
// peerbench's own.

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// A localWorkload is one benchmark of a main-module package.
type localWorkload struct {
	key       string // -only name
	pkg       string // relative to the repository root
	bench     string // go test -bench regexp
	benchtime string
}

var localWorkloads = []localWorkload{
	// Fixed counts: each run first feeds 300k events to reach the steady
	// state (see BenchmarkCEPScale).
	{"cep", "./automation/cep", "^BenchmarkCEPScale(Paired)?$", "300000x"},
	{"windows", "./analytics", "^BenchmarkWindows$", "1s"},
	// Each iteration extracts and walks a 400-file tree in six variants.
	{"fuse", "./fusebridge", "^BenchmarkFUSETree$", "5x"},
	{"idle", "./propagation", "^BenchmarkBusIdleCPU$", "1000x"},
}

// runLocal runs the main-module workloads selected by only (all when
// empty) count times each and returns their output; a workload that fails
// is reported in it as peerbench-failed.
func runLocal(count int, only string) []byte {
	var output bytes.Buffer
	for _, w := range localWorkloads {
		if only != "" && !slices.Contains(strings.Split(only, ","), w.key) {
			continue
		}
		log.Printf("%s (%s): -benchtime=%s -count=%d", w.key, w.pkg, w.benchtime, count)
		cmd := exec.Command("go", "test", "-run", "^$", "-bench", w.bench, "-benchtime", w.benchtime,
			"-count", strconv.Itoa(count), "-timeout", "60m", w.pkg)
		cmd.Dir = "../.."
		var buf bytes.Buffer
		cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
		cmd.Stderr = io.MultiWriter(&buf, os.Stderr)
		err := cmd.Run()
		output.Write(buf.Bytes())
		if err != nil {
			log.Printf("%s: %v", w.key, err)
			fmt.Fprintf(&output, "peerbench-failed\t%s\t%v\n", w.key, err)
		}
	}
	return output.Bytes()
}

// joinBenchLines repairs benchmark result lines that a log line split:
// go test prints a benchmark's name, runs it, then prints its figures, so
// a line logged meanwhile (the kernel watcher's start, say) ends up after
// the name and the figures on a line of their own. The figures' line gets
// the name in front; every line is kept. parse calls it, so raw files of
// earlier runs (-from) are repaired too.
func joinBenchLines(b []byte) []byte {
	var out bytes.Buffer
	pending := ""
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if name, rest, ok := strings.Cut(line, "\t"); ok && strings.HasPrefix(line, "Benchmark") {
			if f := strings.Fields(rest); len(f) == 0 || !isCount(f[0]) {
				pending = strings.TrimSpace(name)
			} else {
				pending = ""
			}
		} else if f := strings.Fields(line); pending != "" && len(f) >= 3 && isCount(f[0]) && (line[0] == ' ' || line[0] == '\t') {
			line = pending + "\t" + strings.TrimLeft(line, " \t")
			pending = ""
		}
		out.WriteString(line)
	}
	return out.Bytes()
}

func isCount(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// renderLocal writes the tables of the main-module workloads that ran and
// returns the rows where semevent loses.
func renderLocal(b *strings.Builder, r *results) []loss {
	var losses []loss
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	cell := func(name, unit string, f func(float64) string) string { return r.cell(name, unit, f) }
	// vs compares two costs (or the inverse of two rates) and records a
	// loss when semevent's is the higher.
	vs := func(workload, peer string, peerCost, semCost float64, ok bool) string {
		if !ok {
			return "–"
		}
		v := versus(peerCost, semCost)
		if strings.HasPrefix(v, "**") {
			losses = append(losses, loss{workload, peer, "semevent", strings.Trim(v, "*"), true})
		}
		return v
	}
	both := func(a, b float64, okA, okB bool) (float64, float64, bool) { return a, b, okA && okB && a > 0 && b > 0 }

	if r.has("BenchmarkCEPScalePaired") {
		p("## Complex event processing\n\n")
		p("1000 patterns (250 each of followed-by sequences, counts, absences and repeats) over 100 topics, so that each event wakes about 12 of them, on 10k keys (paths), 10 µs of event time per event; about 2.7 matches per event, most of them absences timing out. The baseline is a naive hand-written matcher for the same patterns in `automation/cep/scale_test.go`: per pattern a Go map from key to state, the patterns of each topic in a map, absence deadlines in one FIFO. It only counts its matches, while the engine publishes each as an event naming its causes; both find the same matches (`TestCEPScaleBaselineAgrees`). The two run in alternating blocks of 1024 events in one benchmark (`BenchmarkCEPScalePaired`), after 300k events each to reach the steady state; allocations and heap come from `BenchmarkCEPScale`, which runs each alone. Goal (issue 15): at least 2× the naive matcher and 1 M events/s on an idle machine.\n\n")
		p("| contender | events/s | events/CPU-s | allocs/event | B/event | heap | vs semevent (wall) | vs semevent (thread CPU) |\n|---|---:|---:|---:|---:|---:|---|---|\n")
		semW, okSW := r.median("BenchmarkCEPScalePaired", "engine-events/s")
		naiveW, okNW := r.median("BenchmarkCEPScalePaired", "naive-events/s")
		_, _, okW := both(semW, naiveW, okSW, okNW)
		semC, okSC := r.median("BenchmarkCEPScalePaired", "engine-events/cpu-s")
		naiveC, okNC := r.median("BenchmarkCEPScalePaired", "naive-events/cpu-s")
		_, _, okC := both(semC, naiveC, okSC, okNC)
		p("| semevent | %s | %s | %s | %s | %s | (reference) | (reference) |\n",
			cell("BenchmarkCEPScalePaired", "engine-events/s", rate), cell("BenchmarkCEPScalePaired", "engine-events/cpu-s", rate),
			cell("BenchmarkCEPScale/engine", "allocs/op", plain), cell("BenchmarkCEPScale/engine", "B/op", plain), cell("BenchmarkCEPScale/engine", "heap-MiB", mib))
		cpuVs := "–"
		if okC {
			cpuVs = strings.Trim(versus(1/naiveC, 1/semC), "*")
		}
		p("| naive | %s | %s | %s | %s | %s | %s | %s |\n\n",
			cell("BenchmarkCEPScalePaired", "naive-events/s", rate), cell("BenchmarkCEPScalePaired", "naive-events/cpu-s", rate),
			cell("BenchmarkCEPScale/naive", "allocs/op", plain), cell("BenchmarkCEPScale/naive", "B/op", plain), cell("BenchmarkCEPScale/naive", "heap-MiB", mib),
			vs("CEP, 1000 patterns", "naive", 1/naiveW, 1/semW, okW), cpuVs)
		p("The wall-clock ratio decides (it includes the garbage collector, which runs on other threads); the thread-CPU ratio leaves out waiting for a core on a shared machine, and the background GC.\n\n")
	}

	var windows []string
	for name := range r.runs {
		if w, ok := strings.CutPrefix(name, "BenchmarkWindows/"); ok {
			windows = append(windows, w)
		}
	}
	if len(windows) > 0 {
		slices.Sort(windows)
		p("## Windowed aggregation\n\n")
		p("`analytics.Processor` (count, sum, min, max per path and window, 100 µs of allowed disorder, watermarks, late-event accounting) against a naive map aggregation of the same events (1,000 paths: one map entry per key and window, the same figures, no lateness accounting), in alternating blocks in one benchmark (`BenchmarkWindows`). The wall-clock ratio decides; the thread-CPU ratio leaves out waiting for a core on a shared machine (and the background GC).\n\n")
		p("| window | semevent events/s | naive events/s | vs naive (wall) | semevent events/CPU-s | naive events/CPU-s | vs naive (thread CPU) |\n|---|---:|---:|---|---:|---:|---|\n")
		for _, w := range windows {
			name := "BenchmarkWindows/" + w
			semW, okSW := r.median(name, "events/s")
			naiveW, okNW := r.median(name, "naive-events/s")
			_, _, okW := both(semW, naiveW, okSW, okNW)
			semC, okSC := r.median(name, "events/cpu-s")
			naiveC, okNC := r.median(name, "naive-events/cpu-s")
			cpuVs := "–"
			if _, _, okC := both(semC, naiveC, okSC, okNC); okC {
				cpuVs = strings.Trim(versus(1/naiveC, 1/semC), "*")
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", w, cell(name, "events/s", rate), cell(name, "naive-events/s", rate),
				vs("windows "+w, "naive", 1/naiveW, 1/semW, okW), cell(name, "events/cpu-s", rate), cell(name, "naive-events/cpu-s", rate), cpuVs)
		}
		p("\n")
	}

	if r.has("BenchmarkFUSETree") {
		p("## FUSE capture overhead\n\n")
		p("`BenchmarkFUSETree` extracts a generated module tree of 400 files with tar (a child process) into the mount and walks it reading every file, in each variant, interleaved (every iteration runs each variant once, in rotating order). Variants: the bare backing directory (a floor: no FUSE at all), go-fuse's own loopback, and semevent's loopback with its watcher, dedup and one subscriber, each with and without passthrough (`semevent-nowatcher`: without the watcher). CPU time counts tar, the walk and the whole server process (watcher and bus included), which holds steadier under load than wall time. Goal (issue 15): semevent at most 1.10× go-fuse.\n\n")
		p("| variant | µs/tree | CPU µs/tree | vs semevent (CPU time) | what it is |\n|---|---:|---:|---|---|\n")
		type variant struct{ name, ref, what string }
		for _, v := range []variant{
			{"semevent-passthrough", "", "semevent's loopback, passthrough, watcher, dedup, one subscriber"},
			{"semevent", "", "the same without passthrough"},
			{"semevent-nowatcher", "", "without passthrough and without the watcher"},
			{"gofuse", "semevent-passthrough", "go-fuse's loopback, passthrough"},
			{"gofuse-nopassthrough", "semevent", "go-fuse's loopback without passthrough"},
			{"direct", "", "the backing directory, no FUSE (floor)"},
		} {
			wall, cpu := v.name+"-µs/tree", v.name+"-cpu-µs/tree"
			if _, ok := r.median("BenchmarkFUSETree", cpu); !ok {
				continue
			}
			cmp := "–"
			switch {
			case v.ref != "":
				peer, okP := r.median("BenchmarkFUSETree", cpu)
				sem, okS := r.median("BenchmarkFUSETree", v.ref+"-cpu-µs/tree")
				_, _, ok := both(peer, sem, okP, okS)
				cmp = vs("FUSE tree ("+v.ref+")", v.name, peer, sem, ok) + " (" + v.ref + ")"
			case strings.HasPrefix(v.name, "semevent"):
				cmp = "(semevent variant)"
			case v.name == "direct":
				cmp = "(floor)"
			}
			p("| %s | %s | %s | %s | %s |\n", v.name, cell("BenchmarkFUSETree", wall, plain0), cell("BenchmarkFUSETree", cpu, plain0), cmp, v.what)
		}
		p("\n")
	}

	if r.has("BenchmarkBusIdleCPU/bus") {
		p("## Bus idle CPU\n\n")
		p("CPU-seconds the process burns per wall-second while nothing is published (`BenchmarkBusIdleCPU`): a goroutine blocked on a channel (the floor: the Go runtime's own background work, which a loaded machine inflates), an idle bus with one subscriber, and the same bus while one event waits for its dedup twin (window 1h). Goal (issue 15): ≈ 0; a bus row more than 0.01 (1%% of a core) above the floor is in bold.\n\n")
		p("| contender | CPU-s per wall-s | what it is |\n|---|---:|---|\n")
		floor, _ := r.median("BenchmarkBusIdleCPU/channel", "cpu-s/wall-s")
		for _, c := range []struct{ name, what string }{
			{"bus", "an idle bus, one subscriber"},
			{"bus-holding-an-event", "the same bus, one event held for dedup"},
			{"channel", "a goroutine blocked on a channel (floor)"},
		} {
			name := "BenchmarkBusIdleCPU/" + c.name
			v, ok := r.median(name, "cpu-s/wall-s")
			s := "–"
			if ok {
				s = strconv.FormatFloat(v, 'f', 4, 64)
				if c.name != "channel" && v-floor > 0.01 {
					s = "**" + s + "**"
					losses = append(losses, loss{"bus idle CPU", "the floor + 0.01 CPU-s/s", "semevent's idle bus (" + c.name + ")",
						"busier (" + strconv.FormatFloat(v, 'f', 3, 64) + " CPU-s/s, floor " + strconv.FormatFloat(floor, 'f', 3, 64) + ")", true})
				}
			}
			p("| %s | %s | %s |\n", c.name, s, c.what)
		}
		p("\n")
	}
	return losses
}

func mib(v float64) string { return fmt.Sprintf("%.0f MiB", v) }

func plain0(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
