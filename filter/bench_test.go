package filter_test

import (
	"testing"
	"time"

	"github.com/expr-lang/expr"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

var sink bool

func benchEvent() *semevent.Event { return write("/data/logs/a.log", 5000) }

// BenchmarkFilterTyped measures typed predicates and their combination.
func BenchmarkFilterTyped(b *testing.B) {
	ev := benchEvent()
	g, _ := filter.PathGlob("/data/**/*.log")
	for _, bc := range []struct {
		name string
		f    filter.Filter
	}{
		{"kind", filter.Kinds(semevent.KindFileWrite)},
		{"pathPrefix", filter.PathPrefix("/data/")},
		{"glob", g},
		{"and3", filter.And(filter.Kinds(semevent.KindFileWrite), filter.SizeRange(4097, 1<<40), filter.PathPrefix("/data/"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = bc.f.Match(ev)
			}
		})
	}
}

// BenchmarkFilterExpr compares compiled conditions with raw expr.Run on the
// same program and environment.
func BenchmarkFilterExpr(b *testing.B) {
	ev := benchEvent()
	for _, bc := range []struct{ name, src string }{
		{"closure", `Kind == "write" && Size > 4096 && Path startsWith "/data/"`},
		{"vmFallback", `Size % 7 == 2 || Path startsWith "/data/" && Size / 2 > 100`},
	} {
		x := filter.MustCompile(bc.src)
		b.Run(bc.name+"/filter", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = x.Match(ev)
			}
		})
		b.Run(bc.name+"/rawExprRun", func(b *testing.B) {
			b.ReportAllocs()
			env := filter.NewEnv(ev)
			prog := x.RawProgram()
			for b.Loop() {
				out, _ := expr.Run(prog, env)
				sink = out.(bool)
			}
		})
	}
	b.Run("handWritten", func(b *testing.B) {
		f := func(ev *semevent.Event) bool {
			return ev.Kind == semevent.KindFileWrite && ev.Size > 4096 && len(ev.Path) >= 6 && ev.Path[:6] == "/data/"
		}
		for b.Loop() {
			sink = f(ev)
		}
	})
}

// BenchmarkFilterExprPaired alternates blocks of 1000 Match calls and 1000
// raw expr.Run calls on the same program, so that both see the same machine
// load, and reports each one's ns per evaluation and their ratio.
func BenchmarkFilterExprPaired(b *testing.B) {
	ev := benchEvent()
	for _, bc := range []struct{ name, src string }{
		{"closure", `Kind == "write" && Size > 4096 && Path startsWith "/data/"`},
		{"vmFallback", `Size % 7 == 2 || Path startsWith "/data/" && Size / 2 > 100`},
	} {
		x := filter.MustCompile(bc.src)
		env := filter.NewEnv(ev)
		prog := x.RawProgram()
		b.Run(bc.name, func(b *testing.B) {
			var tf, tr time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				for range 1000 {
					sink = x.Match(ev)
				}
				t1 := time.Now()
				for range 1000 {
					out, _ := expr.Run(prog, env)
					sink = out.(bool)
				}
				tr += time.Since(t1)
				tf += t1.Sub(t0)
				n += 1000
			}
			b.ReportMetric(float64(tf.Nanoseconds())/float64(n), "filter-ns/eval")
			b.ReportMetric(float64(tr.Nanoseconds())/float64(n), "rawExprRun-ns/eval")
			b.ReportMetric(float64(tr)/float64(tf), "speedup")
		})
	}
}

func BenchmarkCache(b *testing.B) {
	ev := benchEvent()
	x, _ := filter.Compile(`Size % 7 == 2 || Path startsWith "/data/" && Size / 2 > 100`, nil)
	c, _ := filter.NewCache(x, nil)
	b.ReportAllocs()
	for b.Loop() {
		sink = c.Match(ev)
	}
}
