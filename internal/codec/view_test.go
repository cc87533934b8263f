package codec_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

// viewEvent builds an Event from the View's accessors alone (not from
// View.Event), so that comparing it with Decode checks every accessor.
func viewEvent(v *codec.View) *semevent.Event {
	ev := &semevent.Event{
		ID: v.ID(), Kind: v.Kind(), Boundary: v.Boundary(), Priority: v.Priority(), Seen: v.Seen(),
		Topic: string(v.Topic()), Tenant: string(v.Tenant()), Path: string(v.Path()), OldPath: string(v.OldPath()),
		Inode: v.Inode(), PID: v.PID(), UID: v.UID(), GID: v.GID(),
		Offset: v.Offset(), Size: v.Size(), Time: v.Time(),
		Trace: v.Trace(), Cause: v.Cause(), Data: bytes.Clone(v.Data()),
	}
	for k, val := range v.Attrs() {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: string(k), Value: string(val)})
	}
	for o := range v.Observed() {
		ev.Observed = append(ev.Observed, o)
	}
	return ev
}

// TestViewAgreesWithDecode: on random events, every accessor of the view
// and View.Event give what Decode gives.
func TestViewAgreesWithDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var dec, mat semevent.Event
	var v codec.View
	for i := range 5000 {
		ev := randomEvent(r)
		if i%4 == 0 {
			ev.Trace, ev.Cause, ev.Attrs, ev.Observed, ev.Data = semevent.TraceContext{}, semevent.ID{}, nil, nil, nil
		}
		b := codec.Append(nil, ev)
		require.NoError(t, codec.Parse(b, &v), "event %d", i)
		require.NoError(t, codec.Decode(b, &dec), "event %d", i)
		require.Empty(t, semevent.Diff(&dec, viewEvent(&v)), "event %d: accessors differ from Decode", i)
		require.Equal(t, string(v.Path()), v.PathString())
		require.Equal(t, string(v.Topic()), v.TopicString())
		require.Equal(t, len(ev.Attrs), v.NumAttrs())
		require.Equal(t, len(ev.Observed), v.NumObserved())
		v.Event(&mat)
		require.Empty(t, semevent.Diff(&dec, &mat), "event %d: View.Event differs from Decode", i)
		require.Empty(t, semevent.Diff(ev, &mat), "event %d: View.Event differs from the original", i)
	}
}

// TestParseErrorsMatchDecode: Parse rejects exactly what Decode rejects,
// at the same byte, for every prefix and every one-byte corruption of
// random records.
func TestParseErrorsMatchDecode(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		good := codec.Append(nil, randomEvent(r))
		check := func(b []byte) {
			var v codec.View
			var ev semevent.Event
			perr, derr := codec.Parse(b, &v), codec.Decode(b, &ev)
			require.Equal(t, derr, perr, "event %d: %x", i, b)
			if perr != nil {
				var ce *codec.Error
				require.True(t, errors.As(perr, &ce) && errors.Is(perr, codec.ErrMalformed))
			}
		}
		for n := range len(good) {
			check(good[:n])
		}
		for range 20 {
			b := bytes.Clone(good)
			b[r.IntN(len(b))] = byte(r.UintN(256))
			check(b)
		}
	}
}

func FuzzView(f *testing.F) {
	r := rand.New(rand.NewPCG(9, 9))
	for range 8 {
		f.Add(codec.Append(nil, randomEvent(r)))
	}
	f.Add(codec.Append(nil, &semevent.Event{}))
	f.Add([]byte{1, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v codec.View
		var ev semevent.Event
		perr, derr := codec.Parse(b, &v), codec.Decode(b, &ev)
		if (perr == nil) != (derr == nil) {
			t.Fatalf("Parse = %v, Decode = %v", perr, derr)
		}
		if perr != nil {
			var ce *codec.Error
			if !errors.As(perr, &ce) {
				t.Fatalf("Parse error %T is not a *codec.Error", perr)
			}
			return
		}
		if d := semevent.Diff(&ev, viewEvent(&v)); d != nil {
			t.Fatalf("view differs from Decode in %v", d)
		}
	})
}

// typicalEvent is a file write as the FUSE bridge reports it.
func typicalEvent() *semevent.Event {
	return &semevent.Event{
		ID: semevent.MakeID(12345, 6, 7), Kind: semevent.KindFileWrite, Boundary: semevent.FUSE,
		Topic: "fs.write", Path: "/data/project/src/file.go", Inode: 1234567, PID: 4242, UID: 1000, GID: 1000,
		Offset: 8192, Size: 4096, Time: 1_764_000_000_000_000_000,
	}
}

// BenchmarkView compares, in one run and interleaved in blocks of 64,
// Parse plus reading the fields a router reads (Kind, Boundary, ID, Time,
// Path), Decode of the same typical record, and the floor: copying a raw
// 64-byte record. ns/* are wall-clock; cpu-ns/* are the goroutine's OS
// thread's CPU time (CLOCK_THREAD_CPUTIME_ID, the thread locked), which
// the machine's other load inflates far less.
func BenchmarkView(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cv, cd int64
	rec := codec.Append(nil, typicalEvent())
	raw := make([]byte, 64)
	dst := make([]byte, 64)
	var v codec.View
	var ev semevent.Event
	var sink int64
	const rounds = 64
	b.ReportAllocs()
	var tv, td, tf int64
	for b.Loop() {
		c0, t0 := threadCPU(), nanotime()
		for range rounds {
			if err := codec.Parse(rec, &v); err != nil {
				b.Fatal(err)
			}
			sink += int64(v.Kind()) + int64(v.Boundary()) + v.Time() + int64(len(v.Path())) + int64(v.ID().Bytes()[0])
		}
		c1, t1 := threadCPU(), nanotime()
		for range rounds {
			if err := codec.Decode(rec, &ev); err != nil {
				b.Fatal(err)
			}
			sink += ev.Time
		}
		c2, t2 := threadCPU(), nanotime()
		cv, cd = cv+c1-c0, cd+c2-c1
		for range rounds {
			copy(dst, raw)
			sink += int64(dst[0])
		}
		t3 := nanotime()
		tv, td, tf = tv+t1-t0, td+t2-t1, tf+t3-t2
	}
	n := float64(b.N * rounds)
	b.ReportMetric(float64(tv)/n, "ns/view")
	b.ReportMetric(float64(td)/n, "ns/decode")
	b.ReportMetric(float64(tf)/n, "ns/raw64")
	b.ReportMetric(float64(td)/float64(tv), "decode/view")
	b.ReportMetric(float64(cv)/n, "cpu-ns/view")
	b.ReportMetric(float64(cd)/n, "cpu-ns/decode")
	if sink == 42 {
		b.Log(sink)
	}
}

var epoch = time.Now()

func nanotime() int64 { return int64(time.Since(epoch)) }

// threadCPU is the CPU time of the calling OS thread, in ns.
func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}
