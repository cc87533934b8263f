package propagation_test

import (
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/hist"
)

// BenchmarkChannelLatency is BenchmarkBusLatency's floor: the same paced
// publisher sends the publish time over a buffered channel to one
// goroutine, which records the latency in the same histogram.
func BenchmarkChannelLatency(b *testing.B) {
	ch := make(chan int64, 1024)
	var h hist.Histogram
	done := make(chan struct{})
	go func() {
		for t := range ch {
			h.Record(semevent.Now() - t)
		}
		close(done)
	}()
	const interval = 10 * time.Microsecond
	b.ResetTimer()
	next := time.Now()
	for range b.N {
		for time.Now().Before(next) {
			pace()
		}
		next = next.Add(interval)
		ch <- semevent.Now()
	}
	close(ch)
	<-done
	b.StopTimer()
	s := h.Snapshot()
	b.ReportMetric(float64(s.Quantile(0.5)), "p50-ns")
	b.ReportMetric(float64(s.Quantile(0.9)), "p90-ns")
	b.ReportMetric(float64(s.Quantile(0.99)), "p99-ns")
	b.ReportMetric(float64(s.Max()), "max-ns")
	b.ReportMetric(0, "ns/op")
}
