package semevent_test

import (
	"testing"

	"github.com/vexfs/semevent"
)

// FuzzParseTraceParent checks that the traceparent parser never panics and
// that whatever it accepts prints back to its version-00 form and parses
// again to the same value.
func FuzzParseTraceParent(f *testing.F) {
	for _, s := range []string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"",
		"00-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tc, err := semevent.ParseTraceParent(s)
		if err != nil {
			if _, ok := err.(*semevent.ParseError); !ok {
				t.Fatalf("error %T, want *ParseError", err)
			}
			return
		}
		if !tc.IsValid() {
			t.Fatalf("accepted invalid context %v from %q", tc, s)
		}
		again, err := semevent.ParseTraceParent(tc.String())
		if err != nil || again != tc {
			t.Fatalf("re-parse of %s: %v, %v", tc, again, err)
		}
	})
}

// FuzzParseID checks ParseID against ID.String.
func FuzzParseID(f *testing.F) {
	f.Add("0102030405060708090a0b0c0d0e0f10")
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := semevent.ParseID(s)
		if err != nil {
			return
		}
		if id.String() != s {
			t.Fatalf("ParseID(%q).String() = %q", s, id.String())
		}
	})
}

// FuzzValidate checks that Validate never panics on any topic and
// attribute keys.
func FuzzValidate(f *testing.F) {
	f.Add("fs.file.write", "k", uint8(4), uint8(1))
	f.Add("a..b", "", uint8(200), uint8(9))
	f.Fuzz(func(t *testing.T, topic, key string, kind, boundary uint8) {
		ev := semevent.Event{Topic: topic, Kind: semevent.Kind(kind), Boundary: semevent.Boundary(boundary), Attrs: []semevent.Attr{{Key: key}}}
		_ = ev.Validate()
	})
}
