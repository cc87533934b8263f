package main

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseKeys checks that any key file either parses into valid journal
// encryption options or fails with an error that names the file, and
// never panics.
func FuzzParseKeys(f *testing.F) {
	f.Add("k1 " + strings.Repeat("ab", 32) + "\n")
	f.Add("# keys\nk1 " + strings.Repeat("00", 32) + "\nk2 " + strings.Repeat("ff", 32) + "\n")
	f.Add("k1 abc\n")
	f.Add("bad/id " + strings.Repeat("ab", 32))
	f.Add("k1 " + strings.Repeat("ab", 32) + "\nk1 " + strings.Repeat("cd", 32))
	f.Fuzz(func(t *testing.T, data string) {
		enc, err := parseKeys("F", []byte(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "key file F") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("parseKeys(%q) error %q does not name the file in one line", data, err)
			}
			return
		}
		if enc.Keys[enc.KeyID] == nil {
			t.Fatalf("parseKeys(%q): key id %q has no key", data, enc.KeyID)
		}
	})
}

// FuzzParseAnchor checks that --anchor values either parse and print back
// the same or fail as usage errors.
func FuzzParseAnchor(f *testing.F) {
	f.Add("12:" + strings.Repeat("ab", 32))
	f.Add("12")
	f.Add("x:y")
	f.Add("18446744073709551615:" + strings.Repeat("00", 32))
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAnchor(s)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseAnchor(%q) = %v, not a usage error", s, err)
			}
			return
		}
		again, err := parseAnchor(formatAnchor(*a))
		if err != nil || *again != *a {
			t.Fatalf("parseAnchor(%q) = %+v; formatted and parsed again: %+v, %v", s, a, again, err)
		}
	})
}
