package routing

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/vexfs/semevent"
)

// TestDecisionLayout: a decision keyed by a topic of up to 32 bytes keeps
// its hash, key and flags in its first cache line and its names from the
// second on, and decisions start on 64-byte boundaries (320 bytes is a
// size class of the Go allocator whose objects are 64-byte aligned), so
// that a hit reads two or three lines of the decision (issue 15 item 4).
func TestDecisionLayout(t *testing.T) {
	var d decision
	if s := unsafe.Sizeof(d); s != 320 {
		t.Errorf("sizeof(decision) = %d, want 320", s)
	}
	for _, f := range []struct {
		name      string
		off, size uintptr
		line      uintptr // the cache line the field must lie in
	}{
		{"hash", unsafe.Offsetof(d.hash), unsafe.Sizeof(d.hash), 0},
		{"klen", unsafe.Offsetof(d.klen), unsafe.Sizeof(d.klen), 0},
		{"n", unsafe.Offsetof(d.n), 1, 0},
		{"simple", unsafe.Offsetof(d.simple), 1, 0},
		{"keyShort", unsafe.Offsetof(d.keyShort), unsafe.Sizeof(d.keyShort), 0},
		{"names[0]", unsafe.Offsetof(d.names), unsafe.Sizeof(d.names[0]), 0},
		{"names[1:5]", unsafe.Offsetof(d.names) + unsafe.Sizeof(d.names[0]), 4 * unsafe.Sizeof(d.names[0]), 1},
	} {
		if f.off < f.line*64 || f.off+f.size > (f.line+1)*64 {
			t.Errorf("decision.%s at [%d, %d), want it in cache line %d", f.name, f.off, f.off+f.size, f.line)
		}
	}
	tab, err := New(&RuleSet{Rules: []Rule{{Subject: "a.>", To: []string{"x"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := tab.cur.Load()
	e := c.entryFor("a.b")
	for i := range 100 {
		topic := "a." + strings.Repeat("b", i)
		path := ""
		if i%2 == 1 {
			path = "/p/" + strings.Repeat("q", i)
		}
		d := c.decide(e, decisionHash(c, topic, path), topic, path)
		if p := uintptr(unsafe.Pointer(d)); p%64 != 0 {
			t.Fatalf("decision %d at %#x, not 64-byte aligned", i, p)
		}
		want := topic
		if path != "" {
			want = topic + "\x00" + path
		}
		if d.key() != want || !d.is(d.hash, topic, path) || d.is(d.hash, topic+"x", path) {
			t.Fatalf("decision key %q, want %q", d.key(), want)
		}
		if short := path == "" && len(topic) <= 32; d.isShortTopic(topic) != short {
			t.Fatalf("decision for %q: isShortTopic = %v, want %v", topic, !short, short)
		}
	}
}

// TestHitComparesKey: a cached decision whose hash equals the event's but
// whose key differs is not used (the hash is only the index; a collision
// between two tenants' subjects must not route one's events by the
// other's rules).
func TestHitComparesKey(t *testing.T) {
	tab, err := New(&RuleSet{Rules: []Rule{
		{Subject: "tenant.a.>", To: []string{"a"}},
		{Subject: "tenant.b.>", To: []string{"b"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := tab.cur.Load()
	for _, keyLen := range []int{len("tenant.a.x"), 40, 100} { // inline in line 0, in keyLong, on the heap
		evA := &semevent.Event{Topic: "tenant.a." + strings.Repeat("x", keyLen-len("tenant.a."))}
		evB := &semevent.Event{Topic: "tenant.b." + strings.Repeat("x", keyLen-len("tenant.b."))}
		for range 3 {
			tab.Route(evB, nil) // cache b's decision
		}
		hB := decisionHash(c, evB.Topic, "")
		dB := c.lookup(hB, evB.Topic, "")
		if dB == nil || dB.simple != simpleTopic {
			t.Fatalf("key length %d: b's decision not cached as a simple hit: %+v", keyLen, dB)
		}
		// Forge a collision: b's decision under a's hash, in both ways of
		// a's set.
		set := forgeDecision(c, dB, evA.Topic)
		if got := tab.Route(evA, nil); !slices.Equal(got, []string{"a"}) {
			t.Errorf("key length %d: Route(%s) with b's decision under a's hash = %v, want [a]", keyLen, evA.Topic, got)
		}
		set[0].Store(nil)
		set[1].Store(nil)
	}
}

// TestStrEqualAndHash: strEqual agrees with == and strHash gives equal
// strings in different memory the same hash, for every length up to 100
// and strings that end where their allocation ends (under -race, checkptr
// reports a read past it).
func TestStrEqualAndHash(t *testing.T) {
	own := func(s string) string { // s in an allocation of exactly len(s) bytes
		b := make([]byte, len(s))
		copy(b, s)
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	base := "tenant.t12.fs.file.write.and.some.more.tokens.to.go.past.one.hundred.bytes.of.subject.for.the.loop.x"
	for n := 0; n <= 100; n++ {
		a, b := own(base[:n]), own(base[:n])
		if !strEqual(a, b) {
			t.Errorf("strEqual(%q, copy) = false", a)
		}
		if strHash(a, 42) != strHash(b, 42) {
			t.Errorf("strHash(%q) differs between two copies", a)
		}
		for i := range n { // one byte different, anywhere
			c := []byte(base[:n])
			c[i] ^= 1
			if strEqual(a, string(c)) {
				t.Errorf("strEqual(%q, %q) = true", a, c)
			}
		}
		if n > 0 && strEqual(a, b[:n-1]) {
			t.Errorf("strEqual(%q, %q) = true", a, b[:n-1])
		}
	}
}

// FuzzStrEqual: strEqual(a, b) == (a == b), and equal strings hash alike.
func FuzzStrEqual(f *testing.F) {
	f.Add("tenant.t1.fs.file.write", "tenant.t1.fs.file.write")
	f.Add("tenant.t1.fs.file.write", "tenant.t1.fs.file.wrote")
	f.Add("", "a")
	f.Add("abcdefgh", "abcdefgi")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := strEqual(a, b), a == b; got != want {
			t.Errorf("strEqual(%q, %q) = %v, want %v", a, b, got, want)
		}
		if a == b && strHash(a, 7) != strHash(b, 7) {
			t.Errorf("strHash(%q) differs between equal strings", a)
		}
	})
}

// decisionHash is the hash route computes for topic and path.
// forgeDecision stores a copy of d under topic's hash (no path), in both
// ways of its set, and returns the set: a forged hash collision.
func forgeDecision(c *compiled, d *decision, topic string) []atomic.Pointer[decision] {
	forged := *d
	forged.hash = decisionHash(c, topic, "")
	set := c.decisions[forged.hash&c.decisionMask&^1:][:2]
	set[0].Store(&forged)
	set[1].Store(&forged)
	return set
}

func decisionHash(c *compiled, topic, path string) uint64 {
	h := strHash(topic, c.seed)
	if path != "" {
		h = strHash(path, h)
	}
	return h
}

// TestTopicKeyNotConfusedWithPairKey: in a rule set with a path glob,
// decisions are keyed by topic + "\x00" + path; an event whose topic is
// those same bytes and whose path is empty must not take that decision
// (its topic is not the subject the glob rule asked for).
func TestTopicKeyNotConfusedWithPairKey(t *testing.T) {
	tab, err := New(&RuleSet{Rules: []Rule{
		{Subject: "tenant.a.>", Path: "/secret/**", To: []string{"secret"}},
		{To: []string{"all"}},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pair := &semevent.Event{Topic: "tenant.a.x", Path: "/secret/k"}
	for range 3 {
		if got := tab.Route(pair, nil); !slices.Equal(sortedCopy(got), []string{"all", "secret"}) {
			t.Fatalf("Route(%s, %s) = %v, want [all secret]", pair.Topic, pair.Path, got)
		}
	}
	// The two keys' hashes differ; forge a collision to reach the key
	// compare: the pair's decision under the forged topic's hash.
	c := tab.cur.Load()
	d := c.lookup(decisionHash(c, pair.Topic, pair.Path), pair.Topic, pair.Path)
	if d == nil {
		t.Fatal("the pair's decision is not cached")
	}
	forged := &semevent.Event{Topic: "tenant.a.x\x00/secret/k"}
	forgeDecision(c, d, forged.Topic)
	if got := tab.Route(forged, nil); !slices.Equal(got, []string{"all"}) {
		t.Fatalf("Route(%q, no path) = %v, want [all]", forged.Topic, got)
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
