package peerbench

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
)

// payloadSize is the body every contender carries: the semevent event's
// Data, the NATS message data, the watermill message payload.
const payloadSize = 64

// topic is the subject every propagation contender publishes on.
const topic = "fs.file.write"

// benchEvent is the event of the propagation workloads, the same as
// propagation's own BenchmarkBus: ID and Time preset so that the bus reads
// it without writing to it, and a 64-byte payload.
func benchEvent() *semevent.Event {
	return &semevent.Event{
		ID:       semevent.MakeID(1, 1, 1),
		Kind:     semevent.KindFileWrite,
		Boundary: semevent.FUSE,
		Path:     "/data/bench.bin",
		Size:     payloadSize,
		Time:     1,
		Seen:     semevent.Boundaries(semevent.FUSE),
		Data:     make([]byte, payloadSize),
	}
}

// counter is an atomic counter on its own cache line.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// sink counts what each subscriber receives and says when every
// subscriber has received want events.
type sink struct {
	lat    *latency // nil but in the latency benchmark
	counts []counter
	want   int64
	left   atomic.Int64
	bad    atomic.Int64
	done   chan struct{}
}

func newSink(subs int, want int64) *sink {
	s := &sink{counts: make([]counter, subs), want: want, done: make(chan struct{})}
	s.left.Store(int64(subs))
	if want == 0 {
		close(s.done)
	}
	return s
}

// got records that subscriber i received an event with this payload.
func (s *sink) got(i int, data []byte) {
	if len(data) != payloadSize {
		s.bad.Add(1)
	} else if s.lat != nil && i == 0 {
		s.lat.record(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(data)))
	}
	if s.counts[i].n.Add(1) == s.want {
		if s.left.Add(-1) == 0 {
			close(s.done)
		}
	}
}

// latency makes the publishers send at a fixed rate, each event with its
// own payload stamped with the time of publishing, and records the
// publish-to-handler latency of every event at subscriber 0.
type latency struct {
	interval time.Duration
	mu       sync.Mutex // guards samples
	samples  []int64
}

func (l *latency) record(d int64) {
	l.mu.Lock()
	l.samples = append(l.samples, d)
	l.mu.Unlock()
}

// quantile returns the q-quantile of the samples, sorting them.
func (l *latency) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.samples) == 0 {
		return 0
	}
	slices.Sort(l.samples)
	return float64(l.samples[min(int(q*float64(len(l.samples))), len(l.samples)-1)])
}

// bytes returns the payload to publish next: shared, or in latency mode a
// new one stamped with the time, once the publisher's next slot (kept in
// next) has come.
func (s *sink) bytes(shared []byte, next *time.Time) []byte {
	if s.lat == nil {
		return shared
	}
	if next.IsZero() {
		*next = time.Now()
	}
	for time.Now().Before(*next) {
		runtime.Gosched() // a publisher with other work to do, not one hogging its processor
	}
	*next = next.Add(s.lat.interval)
	b := make([]byte, payloadSize)
	binary.LittleEndian.PutUint64(b, uint64(time.Now().UnixNano()))
	return b
}

// event is bytes for contenders that carry a *semevent.Event: shared, or a
// copy of it with a stamped payload.
func (s *sink) event(shared *semevent.Event, next *time.Time) *semevent.Event {
	if s.lat == nil {
		return shared
	}
	ev := *shared
	ev.Data = s.bytes(nil, next)
	return &ev
}

// delivered is the number of events received by all subscribers.
func (s *sink) delivered() int64 {
	var t int64
	for i := range s.counts {
		t += s.counts[i].n.Load()
	}
	return t
}

// wait returns once every subscriber has its events, or an error saying
// who is short after timeout.
func (s *sink) wait(timeout time.Duration) error {
	select {
	case <-s.done:
	case <-time.After(timeout):
		return fmt.Errorf("after %v: delivered %v, want %d per subscriber", timeout, s.snapshot(), s.want)
	}
	if b := s.bad.Load(); b != 0 {
		return fmt.Errorf("%d events arrived with a payload of the wrong size", b)
	}
	// Give a contender that delivers too much the chance to show it.
	for i := range s.counts {
		if n := s.counts[i].n.Load(); n != s.want {
			return fmt.Errorf("subscriber %d got %d events, want %d", i, n, s.want)
		}
	}
	return nil
}

func (s *sink) snapshot() []int64 {
	out := make([]int64, len(s.counts))
	for i := range s.counts {
		out[i] = s.counts[i].n.Load()
	}
	return out
}

// window bounds the events in flight for contenders that have no
// backpressure of their own (NATS core, watermill's gochannel without
// BlockPublishUntilSubscriberAck): a publisher waits while more than limit
// events per subscriber are published but not yet received. Without it
// NATS cuts off slow consumers and gochannel starts a goroutine per
// undelivered message.
type window struct {
	s     *sink
	subs  int64
	limit int64
	sent  atomic.Int64
}

// windowLimit is the per-subscriber window: four times the bus's default
// subscriber buffer.
const windowLimit = 4096

// windowStep is how many events a publisher sends between two looks at the
// window.
const windowStep = 64

func newWindow(s *sink, subs int) *window {
	return &window{s: s, subs: int64(subs), limit: windowLimit}
}

// published records n more published events and waits for room.
func (w *window) published(n int) {
	sent := w.sent.Add(int64(n))
	for (sent-w.limit)*w.subs > w.s.delivered() {
		runtime.Gosched()
	}
}

// timeout bounds how long a run may wait for its deliveries.
const timeout = 2 * time.Minute

func reportRate(b *testing.B, n float64, unit string) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(n/s, unit)
	}
}
