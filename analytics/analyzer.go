package analytics

import (
	"context"

	"github.com/vexfs/semevent"
)

// Analyzer turns events into results. It is a [semevent.Handler], so it
// can subscribe to a propagation bus directly.
//
// Handle and Flush may be called concurrently.
type Analyzer interface {
	// Handle takes one event into account; results it causes are
	// delivered before it returns.
	Handle(ctx context.Context, ev *semevent.Event) error
	// Flush emits whatever the analyzer holds back (open windows), as at
	// the end of a stream.
	Flush(ctx context.Context) error
}

// Advancer is implemented by analyzers whose notion of time can move
// without events: the watermark of an event-time processor, for example
// from a heartbeat.
type Advancer interface {
	Advance(ctx context.Context, t int64) error
}

// StatsReporter is implemented by analyzers that keep counters.
type StatsReporter interface {
	Stats() Stats
}

// Advance moves a's time to t when a is an [Advancer]; otherwise it
// returns [ErrUnsupported].
func Advance(ctx context.Context, a Analyzer, t int64) error {
	if ad, ok := a.(Advancer); ok {
		return ad.Advance(ctx, t)
	}
	return ErrUnsupported
}

// StatsOf returns a's counters when a is a [StatsReporter].
func StatsOf(a Analyzer) (Stats, bool) {
	if s, ok := a.(StatsReporter); ok {
		return s.Stats(), true
	}
	return Stats{}, false
}

func hash64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
