package matchac

import (
	"slices"
	"strings"
	"testing"
)

func find(a *Automaton, text string) []int32 {
	var got []int32
	s := int32(0)
	for i := 0; i < len(text); i++ {
		s = a.Step(s, text[i])
		for _, p := range a.Matches(s) {
			if !slices.Contains(got, p) {
				got = append(got, p)
			}
		}
	}
	slices.Sort(got)
	return got
}

func brute(pats []string, text string) []int32 {
	var want []int32
	for i, p := range pats {
		if p != "" && strings.Contains(text, p) {
			want = append(want, int32(i))
		}
	}
	return want
}

func TestFind(t *testing.T) {
	pats := []string{"he", "she", "his", "hers", "", "secret", "s"}
	for _, text := range []string{"ushers", "", "this is a secret", "hhhe", "xyz"} {
		if got, want := find(New(pats), text), brute(pats, text); !slices.Equal(got, want) {
			t.Errorf("find(%q) = %v, want %v", text, got, want)
		}
	}
}

func FuzzAutomaton(f *testing.F) {
	f.Add("he,she,his,hers", "ushers")
	f.Add("a,aa,aaa", "aaaa")
	f.Fuzz(func(t *testing.T, patterns, text string) {
		pats := strings.Split(patterns, ",")
		if got, want := find(New(pats), text), brute(pats, text); !slices.Equal(got, want) {
			t.Fatalf("patterns %q in %q: got %v, want %v", pats, text, got, want)
		}
	})
}
