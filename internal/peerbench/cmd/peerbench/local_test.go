package main

import (
	"strings"
	"testing"
)

// TestJoinBenchLines: a log line printed while a benchmark ran splits its
// name from its figures; joinBenchLines joins them back so that parse
// finds the figures, and leaves intact lines alone.
func TestJoinBenchLines(t *testing.T) {
	in := "goos: linux\n" +
		"BenchmarkFUSETree-2   \t2026/11/30 08:58:58 INFO kernel watcher started component=kwatch\n" +
		"2026/11/30 08:58:59 INFO kernel watcher started component=kwatch\n" +
		"       5\t3038669119 ns/op\t     25344 direct-cpu-µs/tree\t 1.5 gofuse/direct\n" +
		"--- BENCH: BenchmarkFUSETree-2\n" +
		"    bench_tree_test.go:193: semevent: 5017 events delivered\n" +
		"BenchmarkBusIdleCPU/bus-2             \t    1000\t   1417922 ns/op\t         0.03632 cpu-s/wall-s\n"
	if r := parse([]byte(in)); !r.has("BenchmarkFUSETree") {
		t.Errorf("parse did not repair the split line:\n%s", in)
	}
	out := string(joinBenchLines([]byte(in)))
	r := parse([]byte(out))
	if v, ok := r.median("BenchmarkFUSETree", "direct-cpu-µs/tree"); !ok || v != 25344 {
		t.Errorf("FUSETree direct-cpu-µs/tree = %v, %v; want 25344\n%s", v, ok, out)
	}
	if v, ok := r.median("BenchmarkFUSETree", "gofuse/direct"); !ok || v != 1.5 {
		t.Errorf("FUSETree gofuse/direct = %v, %v; want 1.5", v, ok)
	}
	if v, ok := r.median("BenchmarkBusIdleCPU/bus", "cpu-s/wall-s"); !ok || v != 0.03632 {
		t.Errorf("BusIdleCPU/bus = %v, %v; want 0.03632", v, ok)
	}
	for _, keep := range []string{"goos: linux\n", "2026/11/30 08:58:59 INFO kernel watcher started", "--- BENCH: BenchmarkFUSETree-2\n", "semevent: 5017 events delivered"} {
		if !strings.Contains(out, keep) {
			t.Errorf("output lost %q:\n%s", keep, out)
		}
	}
	if again := string(joinBenchLines([]byte(out))); again != out {
		t.Errorf("joinBenchLines is not idempotent:\n%s\nthen\n%s", out, again)
	}
}

// FuzzJoinBenchLines: any go test output is repaired without a panic,
// every line is kept (a figures' line may only gain a benchmark name in
// front), and a second pass changes nothing.
func FuzzJoinBenchLines(f *testing.F) {
	f.Add("BenchmarkX-2   \tlog line\n   5\t10 ns/op\n")
	f.Add("BenchmarkX-2\t   5\t10 ns/op\nPASS\n")
	f.Add("Benchmark\t\n\t1 2 3\n")
	f.Fuzz(func(t *testing.T, in string) {
		out := string(joinBenchLines([]byte(in)))
		inLines, outLines := strings.SplitAfter(in, "\n"), strings.SplitAfter(out, "\n")
		if len(inLines) != len(outLines) {
			t.Fatalf("joinBenchLines(%q) = %q: %d lines, want %d", in, out, len(outLines), len(inLines))
		}
		for i := range inLines {
			if o, l := outLines[i], inLines[i]; o != l && !(strings.HasPrefix(o, "Benchmark") && strings.HasSuffix(o, "\t"+strings.TrimLeft(l, " \t"))) {
				t.Fatalf("line %d %q became %q", i, l, o)
			}
		}
		if again := string(joinBenchLines([]byte(out))); again != out {
			t.Fatalf("second pass changed %q to %q", out, again)
		}
		_ = parse([]byte(out))
	})
}
