package analytics

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vexfs/semevent"
)

// MaxSequenceLen is the longest sequence a [Miner] counts.
const MaxSequenceLen = 8

// MinerOptions configure a [Miner]; the zero value counts sequences of 2
// to 4 steps per file.
type MinerOptions struct {
	// Key groups events into sequences (default [RenameKey]: the tenant
	// and path, and for a rename the old path, so that "write x.tmp →
	// rename x.tmp" is one file's sequence). The Miner sets the key's
	// Tenant to the event's, so sequences never mix tenants.
	Key semevent.KeyFunc
	// Label names a step (default: the kind and the path's extension,
	// "open *.tmp"; "open" for a path without one).
	Label func(*semevent.Event) string
	// MinLen and MaxLen bound the counted sequence lengths (defaults 2
	// and 4; MaxLen at most MaxSequenceLen).
	MinLen, MaxLen int
	// Gap ends a key's sequence after this much event time without its
	// events (default one minute).
	Gap time.Duration
	// MaxKeys bounds the keys followed at once (default 100000); the
	// least recently seen are forgotten first.
	MaxKeys int
	// MaxLabels bounds the distinct labels (default 4096); events with new
	// labels beyond it are labelled "other" (MinerStats.OtherLabels),
	// the one label past the bound.
	MaxLabels int
	// MaxSequences bounds the distinct sequences counted (default
	// 100,000): an attacker who controls file extensions could otherwise
	// make MaxLabels^MaxLen of them. A new sequence beyond it is not
	// counted (MinerStats.SequencesDropped); sequences already counted go
	// on counting. Each costs about 100 bytes.
	MaxSequences int
}

// MinerStats is a snapshot of a [Miner]'s counters.
type MinerStats struct {
	Keys             int    // keys followed now (at most MaxKeys)
	Labels           int    // distinct labels (at most MaxLabels)
	Sequences        int    // distinct sequences counted (at most MaxSequences)
	KeysEvicted      uint64 // keys forgotten to make room (least recently seen first)
	SequencesDropped uint64 // occurrences of new sequences not counted for lack of room
	OtherLabels      uint64 // events labelled "other" for lack of room
}

// Validate reports every problem with o as a *[semevent.OptionsError];
// nil o is valid.
func (o *MinerOptions) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "analytics.MinerOptions"}
	if o.MinLen < 0 || o.MinLen == 1 {
		e.Addf("MinLen", "%d: must be 0 (default) or at least 2", o.MinLen)
	}
	if o.MaxLen < 0 || o.MaxLen > MaxSequenceLen {
		e.Addf("MaxLen", "%d outside [0, MaxSequenceLen]", o.MaxLen)
	}
	if o.MinLen > 0 && o.MaxLen > 0 && o.MinLen > o.MaxLen {
		e.Addf("MinLen", "%d above MaxLen %d", o.MinLen, o.MaxLen)
	}
	negative(e, "Gap", float64(o.Gap))
	negative(e, "MaxKeys", float64(o.MaxKeys))
	negative(e, "MaxLabels", float64(o.MaxLabels))
	negative(e, "MaxSequences", float64(o.MaxSequences))
	return e.Err()
}

// FrequentSequence is a sequence of steps and how often it occurred.
type FrequentSequence struct {
	Steps []string
	// Support is the number of times the steps occurred back to back in
	// one key's sequence.
	Support uint64
}

// String joins the steps with arrows.
func (p FrequentSequence) String() string { return strings.Join(p.Steps, " → ") }

// Miner discovers frequent event sequences per key. It is an [Analyzer];
// its Handle and Top may be called concurrently.
type Miner struct {
	o MinerOptions

	mu     sync.Mutex // guards every field below
	closed bool
	labels map[string]uint32
	names  []string
	keys   map[semevent.Key]*history
	counts map[gram]uint64
	stats  MinerStats
}

type gram struct {
	n   uint8
	ids [MaxSequenceLen]uint32
}

type history struct {
	last int64
	n    int // steps held, at most MaxLen
	ids  [MaxSequenceLen]uint32
}

var _ Analyzer = (*Miner)(nil)

// NewMiner returns a Miner, or the problems of opts.
func NewMiner(opts *MinerOptions) (*Miner, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o MinerOptions
	if opts != nil {
		o = *opts
	}
	if o.MinLen == 0 {
		o.MinLen = 2
	}
	if o.MaxLen == 0 {
		o.MaxLen = max(4, o.MinLen)
	}
	if o.Gap == 0 {
		o.Gap = time.Minute
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = 100000
	}
	if o.MaxLabels == 0 {
		o.MaxLabels = 4096
	}
	if o.MaxSequences == 0 {
		o.MaxSequences = 100_000
	}
	if o.Key == nil {
		o.Key = RenameKey
	}
	if o.Label == nil {
		o.Label = DefaultLabel
	}
	return &Miner{o: o, labels: map[string]uint32{}, keys: map[semevent.Key]*history{}, counts: map[gram]uint64{}}, nil
}

// RenameKey keys an event by its tenant and path, and a rename by its old
// path: the [Miner]'s default key.
func RenameKey(ev *semevent.Event) semevent.Key {
	if ev.Kind == semevent.KindFileRename && ev.OldPath != "" {
		return semevent.Key{Tenant: ev.Tenant, S: ev.OldPath}
	}
	return semevent.Key{Tenant: ev.Tenant, S: ev.Path}
}

// DefaultLabel labels a step by kind and extension: "open *.tmp".
func DefaultLabel(ev *semevent.Event) string {
	p := ev.Path
	if ev.Kind == semevent.KindFileRename && ev.OldPath != "" {
		p = ev.OldPath
	}
	if ext := path.Ext(p); ext != "" {
		return ev.Kind.String() + " *" + ext
	}
	return ev.Kind.String()
}

// Handle appends ev to its key's sequence and counts the sequences that
// end with it.
func (m *Miner) Handle(_ context.Context, ev *semevent.Event) error {
	if ev == nil {
		return semevent.ErrNilEvent
	}
	k, l := m.o.Key(ev), m.o.Label(ev)
	k.Tenant = ev.Tenant
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("analytics: miner: %w", semevent.ErrClosed)
	}
	id, ok := m.labels[l]
	if !ok {
		if len(m.names) >= m.o.MaxLabels {
			l = "other"
			id, ok = m.labels[l]
			m.stats.OtherLabels++
		}
		if !ok {
			id = uint32(len(m.names))
			m.labels[l] = id
			m.names = append(m.names, l)
		}
	}
	h := m.keys[k]
	if h == nil {
		if len(m.keys) >= m.o.MaxKeys {
			m.evictLocked()
		}
		h = &history{}
		m.keys[k] = h
	} else if ev.Time-h.last > int64(m.o.Gap) {
		h.n = 0
	}
	h.last = ev.Time
	if h.n == m.o.MaxLen {
		copy(h.ids[:], h.ids[1:h.n])
		h.n--
	}
	h.ids[h.n] = id
	h.n++
	for n := m.o.MinLen; n <= h.n; n++ {
		var g gram
		g.n = uint8(n)
		copy(g.ids[:], h.ids[h.n-n:h.n])
		if c, ok := m.counts[g]; ok {
			m.counts[g] = c + 1
		} else if len(m.counts) < m.o.MaxSequences {
			m.counts[g] = 1
		} else {
			m.stats.SequencesDropped++
		}
	}
	return nil
}

// evictLocked forgets the least recently seen half of the keys.
func (m *Miner) evictLocked() {
	ts := make([]int64, 0, len(m.keys))
	for _, h := range m.keys {
		ts = append(ts, h.last)
	}
	slices.Sort(ts)
	cut := ts[len(ts)/2]
	for k, h := range m.keys {
		if h.last <= cut {
			delete(m.keys, k)
			m.stats.KeysEvicted++
		}
	}
}

// Stats returns a snapshot of the counters.
func (m *Miner) Stats() MinerStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Keys, s.Labels, s.Sequences = len(m.keys), len(m.names), len(m.counts)
	return s
}

// Flush does nothing: a Miner emits nothing by itself; ask [Miner.Top].
func (m *Miner) Flush(context.Context) error { return nil }

// Close makes later Handle calls return an error wrapping
// semevent.ErrClosed; Top still answers. It is idempotent and returns nil.
func (m *Miner) Close(context.Context) error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

// Top returns the n patterns with the most support, at least minSupport,
// most supported first (ties: longer first, then by steps).
func (m *Miner) Top(n int, minSupport uint64) []FrequentSequence {
	m.mu.Lock()
	ps := make([]FrequentSequence, 0, len(m.counts))
	for g, c := range m.counts {
		if c < minSupport {
			continue
		}
		steps := make([]string, g.n)
		for i := range steps {
			steps[i] = m.names[g.ids[i]]
		}
		ps = append(ps, FrequentSequence{Steps: steps, Support: c})
	}
	m.mu.Unlock()
	slices.SortFunc(ps, func(a, b FrequentSequence) int {
		if c := cmp.Compare(b.Support, a.Support); c != 0 {
			return c
		}
		if c := cmp.Compare(len(b.Steps), len(a.Steps)); c != 0 {
			return c
		}
		return slices.Compare(a.Steps, b.Steps)
	})
	return ps[:min(n, len(ps))]
}
