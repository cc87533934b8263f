package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

var update = flag.Bool("update", false, "rewrite testdata/v1-events.bin")

// encodedFields lists every field of semevent.Event and its nested types that
// the codec writes. If this test fails, a field was added to (or removed
// from) semevent.Event: teach codec.Append/Decode about it under a new
// Version, keep decoding the old versions, then update this list.
var encodedFields = map[string][]string{
	"Event": {"ID", "Kind", "Boundary", "Priority", "Topic", "Tenant", "Path", "OldPath", "Inode",
		"PID", "UID", "GID", "Offset", "Size", "Time", "Trace", "Cause", "Attrs", "Seen", "Observed", "Data"},
	"TraceContext": {"TraceID", "SpanID", "Flags"},
	"Attr":         {"Key", "Value"},
	"Observation":  {"ID", "Boundary", "Time", "PID"},
}

func TestEveryFieldEncoded(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[semevent.Event](), reflect.TypeFor[semevent.TraceContext](),
		reflect.TypeFor[semevent.Attr](), reflect.TypeFor[semevent.Observation](),
	} {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		require.Equal(t, encodedFields[typ.Name()], got,
			"semevent.%s changed: the codec must encode every field (bump codec.Version, keep old versions decoding)", typ.Name())
	}
}

// randomEvent fills every field of an Event by reflection, so that a field
// added later is filled too and the round trip below fails until the codec
// carries it.
func randomEvent(r *rand.Rand) *semevent.Event {
	ev := new(semevent.Event)
	fill(r, reflect.ValueOf(ev).Elem())
	return ev
}

func fill(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[semevent.ID]() {
			v.Set(reflect.ValueOf(semevent.MakeID(r.Uint64(), r.Uint32(), r.Uint32())))
			return
		}
		for i := range v.NumField() {
			fill(r, v.Field(i))
		}
	case reflect.String:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		v.SetString(string(b))
	case reflect.Slice:
		n := r.IntN(5)
		if v.Type().Elem().Kind() == reflect.Uint8 {
			n = r.IntN(300)
		}
		if n == 0 {
			return
		}
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i))
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(r, v.Index(i))
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		x := r.Uint64()
		if r.IntN(3) == 0 {
			x &= 0xff
		}
		v.SetUint(x)
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := int64(r.Uint64())
		if r.IntN(3) == 0 {
			x %= 300
		}
		v.SetInt(x)
	default:
		panic("fill: unhandled kind " + v.Kind().String() + ": teach the test about the new field type")
	}
}

func TestRoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var got semevent.Event
	for i := range 5000 {
		ev := randomEvent(r)
		if i%4 == 0 { // sparse events: zero optional parts
			ev.Trace, ev.Cause, ev.Attrs, ev.Observed = semevent.TraceContext{}, semevent.ID{}, nil, nil
		}
		b := codec.Append(nil, ev)
		require.LessOrEqual(t, len(b), codec.Size(ev))
		require.NoError(t, codec.Decode(b, &got), "event %d", i)
		require.Empty(t, semevent.Diff(ev, &got), "event %d: fields differ", i)
		require.True(t, reflect.DeepEqual(normal(ev), normal(got.Clone())), "event %d: reflect.DeepEqual", i)
	}
}

// normal makes nil and empty slices equal for reflect.DeepEqual.
func normal(ev *semevent.Event) *semevent.Event {
	c := ev.Clone()
	if len(c.Attrs) == 0 {
		c.Attrs = nil
	}
	if len(c.Observed) == 0 {
		c.Observed = nil
	}
	if len(c.Data) == 0 {
		c.Data = nil
	}
	return c
}

func TestRoundTripTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   semevent.Event
	}{
		{"zero", semevent.Event{}},
		{"write", semevent.Event{Kind: semevent.KindFileWrite, Boundary: semevent.FUSE, Path: "/a", Size: 4096, Time: 1}},
		{"negatives", semevent.Event{Priority: semevent.PriorityLow, Offset: -1, Size: -1 << 63, Time: -5}},
		{"max", semevent.Event{Inode: 1<<64 - 1, PID: 1<<32 - 1, UID: 1<<32 - 1, GID: 1<<32 - 1, Offset: 1<<63 - 1}},
		{"trace only flags", semevent.Event{Trace: semevent.TraceContext{Flags: semevent.FlagSampled}}},
		{"empty attr value", semevent.Event{Attrs: []semevent.Attr{{Key: "k"}}}},
	} {
		b := codec.Append(nil, &tc.ev)
		var got semevent.Event
		if err := codec.Decode(b, &got); err != nil {
			t.Errorf("%s: Decode(Append(ev)) = %v, want nil", tc.name, err)
			continue
		}
		if d := semevent.Diff(&tc.ev, &got); d != nil {
			t.Errorf("%s: round trip differs in %v", tc.name, d)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := codec.Append(nil, &semevent.Event{Path: "/x", Attrs: []semevent.Attr{{Key: "a", Value: "b"}}, Data: []byte("hi")})
	for _, tc := range []struct {
		name string
		b    []byte
		pos  int
	}{
		{"empty", nil, 0},
		{"version 0", []byte{0}, 0},
		{"version 2", append([]byte{2}, good[1:]...), 0},
		{"unknown flag", append([]byte{1, 0x80}, good[2:]...), 1},
		{"truncated id", good[:10], 2},
		{"trailing", append(bytes.Clone(good), 0), len(good)},
		{"string too long", append(append(bytes.Clone(good[:22]), binary.AppendUvarint(nil, 1000)...), good[23:]...), 22},
	} {
		var ev semevent.Event
		err := codec.Decode(tc.b, &ev)
		var ce *codec.Error
		if !errors.As(err, &ce) || !errors.Is(err, codec.ErrMalformed) {
			t.Errorf("%s: Decode = %v, want *codec.Error", tc.name, err)
			continue
		}
		if ce.Pos != tc.pos {
			t.Errorf("%s: Decode error at byte %d, want %d (%v)", tc.name, ce.Pos, tc.pos, err)
		}
	}
	// Every strict prefix of a valid record is an error, never a panic.
	for i := range len(good) {
		var ev semevent.Event
		if err := codec.Decode(good[:i], &ev); err == nil {
			t.Errorf("Decode(good[:%d]) = nil, want an error", i)
		}
	}
}

// goldenEvents are the events in testdata/v1-events.bin, written by version
// 1 of the codec. The file is committed and never regenerated by a newer
// version: it proves that records already on disk keep decoding.
func goldenEvents() []*semevent.Event {
	r := rand.New(rand.NewPCG(2026, 1))
	evs := make([]*semevent.Event, 64)
	for i := range evs {
		evs[i] = randomEvent(r)
		if i%3 == 0 {
			evs[i].Trace, evs[i].Cause, evs[i].Attrs, evs[i].Observed = semevent.TraceContext{}, semevent.ID{}, nil, nil
		}
	}
	return evs
}

func TestDecodeVersion1Golden(t *testing.T) {
	path := filepath.Join("testdata", "v1-events.bin")
	want := goldenEvents()
	if *update {
		var f []byte
		for _, ev := range want {
			rec := codec.Append(nil, ev)
			f = binary.AppendUvarint(f, uint64(len(rec)))
			f = append(f, rec...)
		}
		require.NoError(t, os.WriteFile(path, f, 0o644))
	}
	f, err := os.ReadFile(path)
	require.NoError(t, err)
	for i := 0; len(f) > 0; i++ {
		n, k := binary.Uvarint(f)
		require.Positive(t, k)
		var got semevent.Event
		require.NoError(t, codec.Decode(f[k:k+int(n)], &got), "record %d", i)
		require.Less(t, i, len(want))
		require.Empty(t, semevent.Diff(want[i], &got), "record %d", i)
		f = f[k+int(n):]
	}
}

func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 8 {
		f.Add(codec.Append(nil, randomEvent(r)))
	}
	f.Add(codec.Append(nil, &semevent.Event{}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev semevent.Event
		if err := codec.Decode(b, &ev); err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes equal.
		var again semevent.Event
		if err := codec.Decode(codec.Append(nil, &ev), &again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if d := semevent.Diff(&ev, &again); d != nil {
			t.Fatalf("re-decode differs in %v", d)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/file.txt", Size: 64, Time: 1, Data: make([]byte, 64)}
	buf := make([]byte, 0, codec.Size(ev))
	b.ReportAllocs()
	for b.Loop() {
		buf = codec.Append(buf[:0], ev)
	}
}

func BenchmarkDecode(b *testing.B) {
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Path: "/data/file.txt", Size: 64, Time: 1, Data: make([]byte, 64)}
	rec := codec.Append(nil, ev)
	var got semevent.Event
	b.ReportAllocs()
	for b.Loop() {
		if err := codec.Decode(rec, &got); err != nil {
			b.Fatal(err)
		}
	}
}
