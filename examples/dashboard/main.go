// Dashboard runs a synthetic file-event workload through a propagation bus
// into analytics and serves the live dashboard, Prometheus metrics and
// health on 127.0.0.1:
//
//	go run ./examples/dashboard            # then open http://127.0.0.1:8080/
//	curl -s 127.0.0.1:8080/metrics | grep semevent_
//	curl -s 127.0.0.1:8080/healthz
//
// The workload writes, reads and renames files whose popularity follows a
// Zipf law, at a rate that swells and ebbs over a minute, with a burst of
// writes every 40 seconds that the anomaly detector flags. One processor
// counts events per kind in one-second event-time windows, with the
// sizes' quantiles and the top paths; a miner finds the common sequences
// (open → write → close → rename of *.tmp files) and logs them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/analytics"
	"github.com/vexfs/semevent/analytics/dashboard"
	"github.com/vexfs/semevent/analytics/health"
	"github.com/vexfs/semevent/analytics/promexport"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

// config is what the flags set; the test uses shorter times.
type config struct {
	addr     string
	window   time.Duration // analytics window
	interval time.Duration // dashboard refresh
	rate     float64       // mean events per second
	burst    time.Duration // time between bursts
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	flag.DurationVar(&c.window, "window", time.Second, "analytics window size")
	flag.DurationVar(&c.interval, "interval", time.Second, "dashboard refresh interval")
	flag.Float64Var(&c.rate, "rate", 5000, "mean events per second")
	flag.DurationVar(&c.burst, "burst", 40*time.Second, "time between write bursts")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, c, func(url string) { log.Printf("dashboard on %s (metrics %smetrics, health %shealthz)", url, url, url) })
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

// run serves until ctx ends; ready gets the base URL once listening.
func run(ctx context.Context, c config, ready func(url string)) error {
	// A journal archives the writes; a durable consumer reads them back.
	// The dashboard's journal panel shows both.
	dir, err := os.MkdirTemp("", "semevent-dashboard-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	j, err := journal.Open(dir, &journal.Options{Sync: journal.SyncInterval(50 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer j.Close(context.Background()) // after the bus: see the shutdown order in package semevent
	bus, err := propagation.New(&propagation.Options{LatencySample: 4})
	if err != nil {
		return err
	}
	defer bus.Close(context.Background())

	miner, err := analytics.NewMiner(nil)
	if err != nil {
		return err
	}
	dash, err := dashboard.New(&dashboard.Options{Title: "semevent · synthetic file workload", Bus: bus.Stats,
		Interval: c.interval, Patterns: func() []analytics.FrequentSequence { return miner.Top(8, 10) },
		Journal: func() dashboard.JournalPanel { return journalPanel(j, "indexer") }})
	if err != nil {
		return err
	}
	defer dash.Close(context.Background())

	proc, err := analytics.New(&analytics.Options{
		Name:          "kinds",
		Window:        analytics.Tumbling(c.window),
		MaxOutOfOrder: 50 * time.Millisecond,
		IdleTimeout:   2 * c.window, // close the last windows when the workload stops
		Key:           analytics.KindKey,
		Aggs:          analytics.TopK | analytics.Quantiles | analytics.ApproxDistinct,
		OnResult:      dash.ObserveResult,
		Anomaly:       &analytics.DetectorOptions{Warmup: 8, Threshold: 4, MinStdDev: 20},
		OnAnomaly: func(a analytics.Anomaly) {
			dash.ObserveAnomaly(a)
			log.Printf("anomaly: %s %v events in a window, baseline %.0f, score %.1f", a.Key, a.Value, a.Baseline, a.Score)
		},
		Publisher: bus, // results and anomalies go back on the bus as events
	})
	if err != nil {
		return err
	}
	defer proc.Close(context.Background())
	archiver := semevent.HandlerFunc(func(ctx context.Context, ev *semevent.Event) error {
		if ev.Kind != semevent.KindFileWrite {
			return nil
		}
		_, err := j.Append(ctx, ev)
		return err
	})
	for name, h := range map[string]semevent.Handler{"analytics": proc, "patterns": miner, "archiver": archiver} {
		if _, err := bus.Subscribe(h, &propagation.SubscribeOptions{Name: name}); err != nil {
			return err
		}
	}

	checks := health.New(nil)
	checks.Register("bus", health.BusCheck(bus.Stats, 10000))
	checks.Register("analytics", health.WatermarkCheck(proc.Stats, 10*c.window, nil))
	metrics, err := promexport.New(&promexport.Options{
		Bus:       bus.Stats,
		Analyzers: map[string]func() analytics.Stats{"kinds": proc.Stats},
		Journal:   promexport.JournalOf(j),
		Health:    checks,
	})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", checks)
	mux.Handle("/", dash)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(ln) }()
	ready(fmt.Sprintf("http://%s/", ln.Addr()))

	loadDone, consumerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loadDone)
		workload(ctx, bus, c)
	}()
	go func() {
		defer close(consumerDone)
		_ = j.Consume(ctx, "indexer", func(uint64, *semevent.Event) error { return nil })
	}()
	go func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				for _, p := range miner.Top(3, 10) {
					log.Printf("pattern ×%d: %s", p.Support, p)
				}
			}
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-srvErr:
		return err
	}
	<-loadDone
	<-consumerDone
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = dash.Close(context.Background()) // ends the event streams so Shutdown need not wait
	return srv.Shutdown(sctx)
}

// journalPanel reports j's size, segments and a durable consumer's lag.
func journalPanel(j *journal.Journal, consumers ...string) dashboard.JournalPanel {
	p := dashboard.JournalPanel{NextOffset: j.NextOffset()}
	for _, s := range j.Segments() {
		p.Bytes += s.Size
		p.Segments++
	}
	for _, name := range consumers {
		off, ok, err := j.CommittedOffset(name)
		if err != nil {
			continue
		}
		if !ok {
			off = j.FirstOffset()
		}
		p.Consumers = append(p.Consumers, dashboard.ConsumerLag{Name: name, Offset: off, Lag: p.NextOffset - min(off, p.NextOffset)})
	}
	return p
}

// workload publishes file events until ctx ends.
func workload(ctx context.Context, bus propagation.Propagator, c config) {
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	zipf := rand.NewZipf(r, 1.2, 1, 199)
	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	start := time.Now()
	nextBurst := start.Add(c.burst)
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			// The rate swells and ebbs with a one-minute period.
			phase := 2 * math.Pi * now.Sub(start).Seconds() / 60
			k := int(c.rate * tick.Seconds() * (1 + 0.5*math.Sin(phase)))
			burst := now.After(nextBurst)
			if burst {
				k *= 6
				if now.After(nextBurst.Add(c.window)) {
					nextBurst = nextBurst.Add(c.burst)
				}
			}
			for range k {
				f := zipf.Uint64()
				path := fmt.Sprintf("/srv/data/file-%03d.dat", f)
				ev := &semevent.Event{Boundary: semevent.FUSE, Path: path, PID: 1000 + uint32(f%7), Inode: 1000 + f}
				switch x := r.IntN(10); {
				case burst || x < 4:
					ev.Kind, ev.Size = semevent.KindFileWrite, int64(r.ExpFloat64()*16384)
				case x < 8:
					ev.Kind, ev.Size = semevent.KindFileRead, int64(r.ExpFloat64()*65536)
				default:
					// A temp file's life: open, write, close, rename.
					n++
					tmp := fmt.Sprintf("/srv/tmp/upload-%d.tmp", n)
					for _, kind := range []semevent.Kind{semevent.KindFileOpen, semevent.KindFileWrite, semevent.KindFileClose} {
						_ = bus.Publish(ctx, &semevent.Event{Boundary: semevent.FUSE, Kind: kind, Path: tmp, Size: 4096})
					}
					ev.Kind, ev.OldPath, ev.Path = semevent.KindFileRename, tmp, path
				}
				if err := bus.Publish(ctx, ev); err != nil {
					return
				}
			}
		}
	}
}
