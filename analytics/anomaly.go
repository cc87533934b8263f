package analytics

import (
	"math"
	"sync"

	"github.com/vexfs/semevent"
)

// DetectorOptions configure a [Detector]; the zero value is usable.
type DetectorOptions struct {
	// Alpha is the EWMA smoothing factor in (0, 1] (default 0.1).
	Alpha float64
	// Threshold is the |z-score| from which a value is anomalous
	// (default 3).
	Threshold float64
	// Warmup is the number of values a key needs before it is scored
	// (default 10).
	Warmup int
	// MinStdDev floors the standard deviation so that a flat series does
	// not make every small change infinitely surprising (default 1).
	MinStdDev float64
	// Season, when positive, adds a seasonal baseline: values are also
	// compared with the EWMA of the same position in a cycle of Season
	// values (24 hourly windows, say). Once a slot has seen two cycles,
	// the seasonal score decides.
	Season int
	// MaxKeys bounds the keys tracked (default 10000, about 100 bytes
	// each plus 32 bytes per Season slot); beyond it, values of new keys
	// are not scored and are counted in DetectorStats.Unscored.
	MaxKeys int
}

// Validate reports every problem with o as a *[semevent.OptionsError];
// nil o is valid.
func (o *DetectorOptions) Validate() error {
	e := &semevent.OptionsError{Options: "analytics.DetectorOptions"}
	o.check(e, "")
	return e.Err()
}

// check adds o's problems to e, with field names prefixed.
func (o *DetectorOptions) check(e *semevent.OptionsError, prefix string) {
	if o == nil {
		return
	}
	if o.Alpha < 0 || o.Alpha > 1 {
		e.Addf(prefix+"Alpha", "%v outside [0, 1]", o.Alpha)
	}
	negative(e, prefix+"Threshold", o.Threshold)
	negative(e, prefix+"Warmup", float64(o.Warmup))
	negative(e, prefix+"MinStdDev", o.MinStdDev)
	negative(e, prefix+"Season", float64(o.Season))
	negative(e, prefix+"MaxKeys", float64(o.MaxKeys))
}

// Anomaly is a value that its key's baseline did not expect.
type Anomaly struct {
	Key   semevent.Key
	Time  int64 // Unix nanoseconds (a window's end)
	Value float64
	// Baseline and StdDev are those of the model that decided: the
	// seasonal one when Seasonal is set, else the EWMA; Score is
	// (Value−Baseline)/StdDev.
	Baseline, StdDev, Score float64
	Seasonal                bool
	// EWMA baseline and score, always set.
	EWMABaseline, EWMAScore float64
}

// Detector scores values per key against an EWMA baseline and, optionally,
// a seasonal one. Safe for concurrent use.
type Detector struct {
	o        DetectorOptions
	mu       sync.Mutex // guards keys and unscored
	keys     map[semevent.Key]*baseline
	unscored uint64
}

// DetectorStats is a snapshot of a [Detector]'s counters.
type DetectorStats struct {
	Keys     int    // keys tracked (at most MaxKeys)
	Unscored uint64 // values of new keys not scored for lack of room
}

// Stats returns a snapshot of the counters.
func (d *Detector) Stats() DetectorStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return DetectorStats{Keys: len(d.keys), Unscored: d.unscored}
}

type baseline struct {
	n         int
	ewma      ewma
	season    []ewma
	seasonCnt []int
}

type ewma struct{ mean, variance float64 }

func (e *ewma) add(v, alpha float64, first bool) {
	if first {
		e.mean, e.variance = v, 0
		return
	}
	d := v - e.mean
	inc := alpha * d
	e.mean += inc
	e.variance = (1 - alpha) * (e.variance + d*inc)
}

// NewDetector returns a Detector; nil opts means defaults. Invalid
// fields fall back to their defaults (New validates them first).
func NewDetector(opts *DetectorOptions) *Detector {
	var o DetectorOptions
	if opts != nil {
		o = *opts
	}
	if o.Alpha <= 0 || o.Alpha > 1 {
		o.Alpha = 0.1
	}
	if o.Threshold <= 0 {
		o.Threshold = 3
	}
	if o.Warmup <= 0 {
		o.Warmup = 10
	}
	if o.MinStdDev <= 0 {
		o.MinStdDev = 1
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = 10000
	}
	o.Season = max(o.Season, 0)
	return &Detector{o: o, keys: map[semevent.Key]*baseline{}}
}

// Observe scores v for key (before learning from it) and reports an
// Anomaly when |score| reaches the threshold.
func (d *Detector) Observe(key semevent.Key, t int64, v float64) (Anomaly, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.keys[key]
	if b == nil {
		if len(d.keys) >= d.o.MaxKeys {
			d.unscored++
			return Anomaly{}, false
		}
		b = &baseline{}
		if d.o.Season > 0 {
			b.season = make([]ewma, d.o.Season)
			b.seasonCnt = make([]int, d.o.Season)
		}
		d.keys[key] = b
	}
	a := Anomaly{Key: key, Time: t, Value: v}
	sd := math.Max(math.Sqrt(b.ewma.variance), d.o.MinStdDev)
	a.EWMABaseline, a.EWMAScore = b.ewma.mean, (v-b.ewma.mean)/sd
	a.Baseline, a.StdDev, a.Score = a.EWMABaseline, sd, a.EWMAScore
	scored := b.n >= d.o.Warmup
	if d.o.Season > 0 {
		slot := b.n % d.o.Season
		if s := b.season[slot]; b.seasonCnt[slot] >= 2 {
			ssd := math.Max(math.Sqrt(s.variance), d.o.MinStdDev)
			a.Baseline, a.StdDev, a.Score, a.Seasonal = s.mean, ssd, (v-s.mean)/ssd, true
			scored = true
		}
		b.season[slot].add(v, math.Max(d.o.Alpha, 0.3), b.seasonCnt[slot] == 0)
		b.seasonCnt[slot]++
	}
	b.ewma.add(v, d.o.Alpha, b.n == 0)
	b.n++
	return a, scored && math.Abs(a.Score) >= d.o.Threshold
}
