package main

// The memory workload of issue 13: coord/raft's TestRSSReplicated
// (SEMEVENT_RSS=1) appends 10M replicated events to a cluster of three
// node processes and logs each node's RSS after 1M and 10M. Its summary
// lines become benchmark-shaped lines that parse reads.

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

// rssSummary matches TestRSSReplicated's per-node summary line.
var rssSummary = regexp.MustCompile(`node (\d+): RSS ([\d.]+) MB at (\d+) events, ([\d.]+) MB at (\d+) \(([\d.]+)×\): ([-\d.]+) MB per million events`)

// memoryBuilds are the builds the memory workload runs the test in:
// the default (cgo, where pebble's memtables are C memory) and
// CGO_ENABLED=0 (pebble allocates them in Go).
var memoryBuilds = []struct{ name, env, what string }{
	{"", "", "default build (cgo on: pebble's memtables in C memory, glibc's malloc)"},
	{"nocgo/", "CGO_ENABLED=0", "`CGO_ENABLED=0` (pebble's memtables in Go memory)"},
}

// runMemory runs the memory workload when only selects it (it is not run
// by default: it takes minutes and gigabytes of disk) and returns
// "BenchmarkMemory/[<build>/]node<n>" lines, one per node and build.
func runMemory(only string) []byte {
	if !slices.Contains(strings.Split(only, ","), "memory") {
		return nil
	}
	var b bytes.Buffer
	for _, build := range memoryBuilds {
		log.Printf("memory (./coord/raft TestRSSReplicated, SEMEVENT_RSS=1 %s)", build.env)
		cmd := exec.Command("go", "test", "-run", "^TestRSSReplicated$", "-v", "-count=1", "-timeout", "60m", "./coord/raft")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "SEMEVENT_RSS=1")
		if build.env != "" {
			cmd.Env = append(cmd.Env, build.env)
		}
		out, _ := cmd.CombinedOutput() // fails when the 1.2× goal is not met; the figures are what counts
		os.Stderr.Write(out)
		n := b.Len()
		for _, m := range rssSummary.FindAllSubmatch(out, -1) {
			fmt.Fprintf(&b, "BenchmarkMemory/%snode%s 1 %s rss-first-MB %s first-events %s rss-last-MB %s last-events %s ratio %s MB/Mevents\n",
				build.name, m[1], m[2], m[3], m[4], m[5], m[6], m[7])
		}
		if b.Len() == n {
			fmt.Fprintf(&b, "peerbench-failed\tmemory\tno summary from TestRSSReplicated %s\n", build.env)
		}
	}
	return b.Bytes()
}

// renderMemory writes the memory table, if the memory workload ran.
func renderMemory(b *strings.Builder, r *results) {
	if !r.has("BenchmarkMemory/node1") {
		return
	}
	b.WriteString("## Memory of a replica\n\n")
	b.WriteString("`SEMEVENT_RSS=1 go test -run '^TestRSSReplicated$' ./coord/raft` (run by `go run ./cmd/peerbench -only memory`): three coord/raft node processes, node 1 appending 10M watcher-shaped events (64 appenders × 64-event Appends); each node's RSS after 1M and 10M events, in the default build and with `CGO_ENABLED=0`. Goal (issue 13): 10M within 1.2× of 1M.\n\n")
	b.WriteString("| build | node | RSS at 1M | RSS at 10M | ratio | MB per million events | goal |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, build := range memoryBuilds {
		for n := 1; n <= 3; n++ {
			name := fmt.Sprintf("BenchmarkMemory/%snode%d", build.name, n)
			if !r.has(name) {
				continue
			}
			ratio, _ := r.median(name, "ratio")
			goal := "met"
			if ratio > 1.2 {
				goal = "**not met**"
			}
			mb := func(v float64) string { return fmt.Sprintf("%.1f", v) }
			fmt.Fprintf(b, "| %s | %d | %s MB | %s MB | %.2f× | %s | %s |\n", build.what, n, r.cell(name, "rss-first-MB", mb), r.cell(name, "rss-last-MB", mb), ratio, r.cell(name, "MB/Mevents", mb), goal)
		}
	}
	b.WriteString("\n")
}
