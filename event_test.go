package semevent_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vexfs/semevent"
)

func TestIDGeneratorUniqueAndIncreasing(t *testing.T) {
	g := semevent.NewIDGenerator(9)
	const goroutines, per = 4, 5000
	ids := make([][]semevent.ID, goroutines)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				ids[i] = append(ids[i], g.Next())
			}
		}()
	}
	wg.Wait()
	seen := map[semevent.ID]bool{}
	for _, list := range ids {
		for j, id := range list {
			if seen[id] {
				t.Fatalf("duplicate ID %v", id)
			}
			seen[id] = true
			if j > 0 && list[j-1].Compare(id) >= 0 {
				t.Fatalf("IDs from one goroutine not increasing: %v then %v", list[j-1], id)
			}
			if id.Node() != 9 || id.IsZero() {
				t.Fatalf("ID %v: node %d", id, id.Node())
			}
		}
	}
	// A clock reading in the past still yields a later ID.
	last := g.Next()
	if next := g.NextAt(1); next.Compare(last) <= 0 {
		t.Fatalf("NextAt(past) = %v, not after %v", next, last)
	}
}

func TestIDTextRoundTrip(t *testing.T) {
	id := semevent.MakeID(0x0102030405060708, 0x090a0b0c, 0x0d0e0f10)
	s := id.String()
	if s != "0102030405060708090a0b0c0d0e0f10" {
		t.Fatalf("String() = %s", s)
	}
	back, err := semevent.ParseID(s)
	if err != nil || back != id {
		t.Fatalf("ParseID(%s) = %v, %v", s, back, err)
	}
	if semevent.IDFromBytes(id.Bytes()) != id {
		t.Fatal("Bytes round trip changed the ID")
	}
	for _, tc := range []struct {
		in  string
		pos int
	}{
		{"", 0},
		{"0102", 4},
		{"0102030405060708090a0b0c0d0e0f1G", 31},
		{"0102030405060708090A0b0c0d0e0f10", 19},
	} {
		_, err := semevent.ParseID(tc.in)
		var pe *semevent.ParseError
		if !errors.As(err, &pe) || pe.Pos != tc.pos {
			t.Errorf("ParseID(%q) = %v, want *ParseError at %d", tc.in, err, tc.pos)
		}
	}
}

func TestKindNamesRoundTrip(t *testing.T) {
	for _, k := range semevent.Kinds() {
		for _, s := range []string{k.String(), k.Topic(), strings.ToUpper(k.String())} {
			got, err := semevent.ParseKind(s)
			if err != nil || got != k {
				t.Errorf("ParseKind(%q) = %v, %v; want %v", s, got, err, k)
			}
		}
	}
	if _, err := semevent.ParseKind("explode"); err == nil {
		t.Error("ParseKind(explode) succeeded")
	}
	if got := semevent.Kind(250).String(); got != "Kind(250)" {
		t.Errorf("Kind(250).String() = %s", got)
	}
	if semevent.KindFileWrite.Topic() != "fs.file.write" || !semevent.KindDirCreate.IsFile() || semevent.KindRuleFired.IsFile() {
		t.Error("kind topics or classes wrong")
	}
}

func TestBoundarySet(t *testing.T) {
	s := semevent.Boundaries(semevent.Kernel, semevent.FUSE)
	if !s.Has(semevent.Kernel) || !s.Has(semevent.FUSE) || s.Has(semevent.Userspace) || s.Len() != 2 {
		t.Fatalf("set %v", s)
	}
	if s.String() != "kernel|fuse" || semevent.BoundarySet(0).String() != "none" {
		t.Errorf("String() = %q", s.String())
	}
	if s.With(semevent.Boundary(9)) != s {
		t.Error("adding an invalid boundary changed the set")
	}
	for b := semevent.Boundary(0); b < semevent.NumBoundaries; b++ {
		if got, err := semevent.ParseBoundary(b.String()); err != nil || got != b {
			t.Errorf("ParseBoundary(%s) = %v, %v", b, got, err)
		}
	}
}

func TestTraceParent(t *testing.T) {
	const valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tc, err := semevent.ParseTraceParent(valid)
	if err != nil {
		t.Fatal(err)
	}
	if tc.String() != valid || !tc.Sampled() || !tc.IsValid() {
		t.Fatalf("round trip %s sampled %v", tc, tc.Sampled())
	}
	if _, err := semevent.ParseTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future"); err != nil {
		t.Errorf("future version with extra field: %v", err)
	}
	for _, tc := range []struct {
		in  string
		pos int
	}{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", 52},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", 55},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", 3},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 36},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 4},
		{"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 2},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x", 54},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", 55},
	} {
		_, err := semevent.ParseTraceParent(tc.in)
		var pe *semevent.ParseError
		if !errors.As(err, &pe) || pe.Pos != tc.pos {
			t.Errorf("ParseTraceParent(%q) = %v, want *ParseError at byte %d", tc.in, err, tc.pos)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		ev    semevent.Event
		field string
	}{
		{semevent.Event{Kind: 99}, "Kind"},
		{semevent.Event{Boundary: 7}, "Boundary"},
		{semevent.Event{Topic: "fs..write"}, "Topic"},
		{semevent.Event{Topic: "fs.>"}, "Topic"},
		{semevent.Event{Topic: "fs.file."}, "Topic"},
		{semevent.Event{Topic: "fs file"}, "Topic"},
		{semevent.Event{Topic: strings.Repeat("a", 300)}, "Topic"},
		{semevent.Event{Attrs: []semevent.Attr{{Key: ""}}}, "Attrs[0].Key"},
		{semevent.Event{Attrs: []semevent.Attr{{Key: "a"}, {Key: "a"}}}, "Attrs[1].Key"},
		{semevent.Event{Attrs: make([]semevent.Attr, 65)}, "Attrs"},
	} {
		err := tc.ev.Validate()
		var ee *semevent.EventError
		if !errors.As(err, &ee) || ee.Field != tc.field || !errors.Is(err, semevent.ErrInvalidEvent) {
			t.Errorf("Validate(%+v) = %v, want *EventError for %s", tc.ev, err, tc.field)
		}
	}
	ok := semevent.Event{Kind: semevent.KindFileWrite, Topic: "tenant.acme-1.fs.file.write", Attrs: []semevent.Attr{{Key: "a"}, {Key: "b"}}}
	if err := ok.Validate(); err != nil {
		t.Errorf("valid event: %v", err)
	}
	var nilEv *semevent.Event
	if err := nilEv.Validate(); !errors.Is(err, semevent.ErrNilEvent) {
		t.Errorf("nil.Validate() = %v", err)
	}
}

// TestDiffCoversEveryField changes each field of Event in turn, through
// reflection, and checks that Diff names it: a field added to Event without
// a line in Diff fails here, and with it every "context preserved" check.
func TestDiffCoversEveryField(t *testing.T) {
	base := func() *semevent.Event {
		return &semevent.Event{Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Observed: []semevent.Observation{{PID: 1}}, Data: []byte{1}}
	}
	typ := reflect.TypeFor[semevent.Event]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var leaves [][]int
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[semevent.ID]() {
			for j := range f.Type.NumField() {
				leaves = append(leaves, []int{i, j})
			}
		} else {
			leaves = append(leaves, []int{i})
		}
		for _, idx := range leaves {
			a, b := base(), base()
			v := reflect.ValueOf(b).Elem().FieldByIndex(idx)
			mutate(t, v)
			name := f.Name
			if len(idx) == 2 {
				name += "." + f.Type.Field(idx[1]).Name
			}
			if d := semevent.Diff(a, b); !slices.Contains(d, name) {
				t.Errorf("changing %s: Diff = %v, want it named", name, d)
			}
		}
	}
	if d := semevent.Diff(base(), base().Clone()); d != nil {
		t.Errorf("Diff(e, e.Clone()) = %v", d)
	}
}

func mutate(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		v.SetInt(v.Int() + 1)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		v.SetUint(v.Uint() + 1)
	case reflect.Array:
		mutate(t, v.Index(0))
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes(append(v.Bytes(), 9))
		} else {
			v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
		}
	case reflect.Struct: // ID
		v.Set(reflect.ValueOf(semevent.MakeID(5, 6, 7)))
	default:
		t.Fatalf("mutate: no rule for %s", v.Type())
	}
}

func TestCloneIsDeep(t *testing.T) {
	e := &semevent.Event{Attrs: []semevent.Attr{{Key: "k", Value: "v"}}, Data: []byte("abc"), Observed: []semevent.Observation{{PID: 3}}}
	c := e.Clone()
	c.Attrs[0].Value = "changed"
	c.Data[0] = 'X'
	c.Observed[0].PID = 4
	if e.Attrs[0].Value != "v" || e.Data[0] != 'a' || e.Observed[0].PID != 3 {
		t.Fatal("Clone shares slices with the original")
	}
	c.SetAttr("k", "w")
	c.SetAttr("n", "1")
	if v, _ := c.Attr("k"); v != "w" {
		t.Errorf("SetAttr replace: %s", v)
	}
	if v, ok := c.Attr("n"); !ok || v != "1" {
		t.Errorf("SetAttr add: %s %v", v, ok)
	}
	if e.TopicOrKind() != "unknown" || (&semevent.Event{Topic: "x.y"}).TopicOrKind() != "x.y" {
		t.Error("TopicOrKind")
	}
}
