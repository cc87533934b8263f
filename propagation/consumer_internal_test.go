package propagation

import (
	"math/rand/v2"
	"regexp"
	"testing"
)

// journalNameRE is what package journal accepts as a consumer name.
var journalNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// TestScopedConsumerNamesNeverCollide: distinct (tenant, name) pairs get
// distinct journal names, including the pairs a naive "tenant.name" join
// would confuse, and random tenants of any bytes.
func TestScopedConsumerNamesNeverCollide(t *testing.T) {
	pairs := [][2]string{
		{"a.b", "c"}, {"a", "b.c"}, {"0x41", "x"}, {"A", "x"}, {"", "tenant.A.x"}, {"", "x"},
		{"acme", "indexer"}, {"globex", "indexer"}, {"ac", "me.indexer"}, {"acme/..", "x"}, {"é", "x"},
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("ab.0x-_/é\x00A")
	for range 5000 {
		var tb, nb []byte
		for range 1 + r.IntN(6) {
			tb = append(tb, alphabet[r.IntN(len(alphabet))])
		}
		for range 1 + r.IntN(4) {
			nb = append(nb, "ab.-_x"[r.IntN(6)])
		}
		pairs = append(pairs, [2]string{string(tb), string(nb)})
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		got, err := scopedConsumer(p[0], p[1])
		if err != nil {
			continue // an invalid name is refused, not mapped
		}
		if len(got) > 128 || !journalNameRE.MatchString(got) {
			t.Fatalf("scopedConsumer(%q, %q) = %q: not a journal name", p[0], p[1], got)
		}
		if q, ok := seen[got]; ok && q != p {
			t.Fatalf("scopedConsumer maps %q and %q to %q", q, p, got)
		}
		seen[got] = p
	}
	if _, err := scopedConsumer("acme", "../x"); err == nil {
		t.Error(`scopedConsumer("acme", "../x") accepted`)
	}
}
