package analytics

import (
	"fmt"
	"github.com/vexfs/semevent"
	"math"
	"slices"
	"sync"
	"time"
)

// Tier is one resolution of a [SeriesStore]: points of Resolution width, the
// last Points of them kept.
type Tier struct {
	Resolution time.Duration
	Points     int
}

// SeriesStoreOptions configure a [SeriesStore]. The zero value keeps 10 minutes at
// one second, 2 hours at 10 seconds and 24 hours at one minute.
type SeriesStoreOptions struct {
	Tiers []Tier // finest first; each coarser than the one before
	// MaxSeries bounds the series (default 1000). A series holds every
	// tier's points at 56 bytes each — about 150 KiB with the default
	// tiers, so about 150 MiB at the default bound. Add to a new series
	// beyond it is dropped and counted ([SeriesStore.Dropped]).
	MaxSeries int
}

// Validate reports every problem with o as a *[semevent.OptionsError];
// nil o is valid.
func (o *SeriesStoreOptions) Validate() error {
	if o == nil {
		return nil
	}
	e := &semevent.OptionsError{Options: "analytics.SeriesStoreOptions"}
	for i, t := range o.Tiers {
		f := fmt.Sprintf("Tiers[%d]", i)
		if t.Resolution <= 0 {
			e.Addf(f+".Resolution", "must be positive, got %v", t.Resolution)
		} else if i > 0 && t.Resolution <= o.Tiers[i-1].Resolution {
			e.Addf(f+".Resolution", "%v is not coarser than the tier before", t.Resolution)
		}
		if t.Points <= 0 {
			e.Addf(f+".Points", "must be positive, got %d", t.Points)
		}
	}
	negative(e, "MaxSeries", float64(o.MaxSeries))
	return e.Err()
}

// Point summarises the values of one series in [Time, Time+resolution).
type Point struct {
	Time          int64 // Unix nanoseconds
	Count         uint64
	Sum, Min, Max float64
	Last          float64 // the value added last
}

// Mean returns Sum/Count (NaN for an empty point).
func (p Point) Mean() float64 {
	if p.Count == 0 {
		return math.NaN()
	}
	return p.Sum / float64(p.Count)
}

// SeriesStore is an in-memory time-series store: per series, one ring of points
// per tier, every tier updated on Add (so coarser tiers are downsampled
// summaries of the same values). Safe for concurrent use.
type SeriesStore struct {
	tiers     []Tier
	maxSeries int

	mu      sync.RWMutex // guards series and dropped
	series  map[string]*series
	dropped uint64
}

// Dropped returns how many Adds to a new series MaxSeries refused.
func (s *SeriesStore) Dropped() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dropped
}

type series struct {
	rings []ring
}

type ring struct {
	res    int64
	pts    []Point
	newest int64 // start of the newest point; math.MinInt64 when empty
}

// NewSeriesStore returns a SeriesStore, or the problems of opts.
func NewSeriesStore(opts *SeriesStoreOptions) (*SeriesStore, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &SeriesStore{series: map[string]*series{}, maxSeries: 1000,
		tiers: []Tier{{time.Second, 600}, {10 * time.Second, 720}, {time.Minute, 1440}}}
	if opts != nil {
		if len(opts.Tiers) > 0 {
			s.tiers = slices.Clone(opts.Tiers)
		}
		if opts.MaxSeries > 0 {
			s.maxSeries = opts.MaxSeries
		}
	}
	return s, nil
}

// Add records value v of series name at time t (Unix nanoseconds). Values
// older than a tier's retention are dropped from that tier.
func (s *SeriesStore) Add(name string, t int64, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.series[name]
	if sr == nil {
		if len(s.series) >= s.maxSeries {
			s.dropped++
			return
		}
		sr = &series{rings: make([]ring, len(s.tiers))}
		for i, tr := range s.tiers {
			sr.rings[i] = ring{res: int64(tr.Resolution), pts: make([]Point, tr.Points), newest: math.MinInt64}
		}
		s.series[name] = sr
	}
	for i := range sr.rings {
		sr.rings[i].add(t, v)
	}
}

func (r *ring) slot(b int64) *Point {
	n := int64(len(r.pts))
	i := (b / r.res) % n
	if i < 0 {
		i += n
	}
	return &r.pts[i]
}

func (r *ring) add(t int64, v float64) {
	b := floorTo(t, r.res)
	if r.newest != math.MinInt64 && b <= r.newest-int64(len(r.pts))*r.res {
		return // older than the retention
	}
	p := r.slot(b)
	if p.Count == 0 || p.Time != b {
		*p = Point{Time: b, Min: v, Max: v}
	}
	p.Count++
	p.Sum += v
	p.Min = math.Min(p.Min, v)
	p.Max = math.Max(p.Max, v)
	p.Last = v
	r.newest = max(r.newest, b)
}

// Query returns the points of series name in [from, to), oldest first,
// from the finest tier whose retention reaches back to from (the coarsest
// when none does), and that tier's resolution. Empty intervals yield no
// point.
func (s *SeriesStore) Query(name string, from, to int64) ([]Point, time.Duration) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sr := s.series[name]
	if sr == nil || from >= to {
		return nil, 0
	}
	ri := len(sr.rings) - 1
	for i, r := range sr.rings {
		if r.newest == math.MinInt64 || r.newest-int64(len(r.pts)-1)*r.res <= from {
			ri = i
			break
		}
	}
	r := &sr.rings[ri]
	if r.newest == math.MinInt64 {
		return nil, time.Duration(r.res)
	}
	lo := max(floorTo(from, r.res), r.newest-int64(len(r.pts)-1)*r.res)
	hi := min(to, r.newest+r.res)
	var out []Point
	for b := lo; b < hi; b += r.res {
		if p := r.slot(b); p.Count > 0 && p.Time == b {
			out = append(out, *p)
		}
	}
	return out, time.Duration(r.res)
}

// Names returns the series names, sorted.
func (s *SeriesStore) Names() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	names := make([]string, 0, len(s.series))
	for n := range s.series {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
