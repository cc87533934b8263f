package propagationtest

import (
	"math/rand/v2"

	"github.com/vexfs/semevent"
)

// RandomEvent returns an event with every field set at random, including
// ID, Time and Seen, so that a propagator has nothing to fill in and the
// event a handler receives must equal it in every field
// (semevent.Diff(sent, got) == nil). Use a seeded r to reproduce failures.
func RandomEvent(r *rand.Rand) *semevent.Event {
	b := semevent.Boundary(r.IntN(semevent.NumBoundaries))
	ev := &semevent.Event{
		ID:       semevent.MakeID(r.Uint64()|1, r.Uint32(), r.Uint32()),
		Kind:     semevent.Kind(r.IntN(int(semevent.KindCustom) + 1)),
		Boundary: b,
		Priority: semevent.Priority(r.IntN(256) - 128),
		Tenant:   randString(r, "tenant", 3),
		Path:     "/" + randString(r, "dir", 4) + "/" + randString(r, "f", 1000) + ".dat",
		Inode:    r.Uint64(),
		PID:      r.Uint32(),
		UID:      r.Uint32(),
		GID:      r.Uint32(),
		Offset:   r.Int64(),
		Size:     r.Int64N(1 << 40),
		Time:     r.Int64N(1<<62) + 1,
		Cause:    semevent.MakeID(r.Uint64(), r.Uint32(), r.Uint32()),
		Seen:     semevent.BoundarySet(r.IntN(16)).With(b),
	}
	if r.IntN(2) == 0 {
		ev.Topic = "tenant." + randString(r, "t", 5) + ".fs.custom"
	}
	if ev.Kind == semevent.KindFileRename {
		ev.OldPath = "/old/" + randString(r, "f", 1000)
	}
	for i := range ev.Trace.TraceID {
		ev.Trace.TraceID[i] = byte(r.Uint32())
	}
	for i := range ev.Trace.SpanID {
		ev.Trace.SpanID[i] = byte(r.Uint32())
	}
	ev.Trace.Flags = semevent.TraceFlags(r.IntN(256))
	for i := range r.IntN(6) {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: randString(r, "k", 1000) + string(rune('a'+i)), Value: randString(r, "v", 1<<20)})
	}
	for range r.IntN(3) {
		ev.Observed = append(ev.Observed, semevent.Observation{
			ID:       semevent.MakeID(r.Uint64(), r.Uint32(), r.Uint32()),
			Boundary: semevent.Boundary(r.IntN(semevent.NumBoundaries)),
			Time:     r.Int64(),
			PID:      r.Uint32(),
		})
	}
	if n := r.IntN(200); n > 0 {
		ev.Data = make([]byte, n)
		for i := range ev.Data {
			ev.Data[i] = byte(r.Uint32())
		}
	}
	return ev
}

func randString(r *rand.Rand, prefix string, n int) string {
	const digits = "0123456789"
	v := r.IntN(n)
	b := []byte(prefix)
	for {
		b = append(b, digits[v%10])
		v /= 10
		if v == 0 {
			return string(b)
		}
	}
}
