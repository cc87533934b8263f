package analytics

import (
	"math"

	"github.com/vexfs/semevent"
)

// ForecastOptions configure a [HoltWinters] forecaster; the zero value
// forecasts a trend without seasonality.
type ForecastOptions struct {
	Alpha, Beta, Gamma float64 // level, trend and season smoothing in (0,1] (defaults 0.5, 0.1, 0.3)
	Season             int     // values per cycle; 0 for none
	// Z is the normal quantile of the prediction interval (default 1.96,
	// a 95% interval).
	Z float64
}

// Validate reports every problem with o as a *[semevent.OptionsError];
// nil o is valid.
func (o *ForecastOptions) Validate() error {
	e := &semevent.OptionsError{Options: "analytics.ForecastOptions"}
	o.check(e, "")
	return e.Err()
}

// check adds o's problems to e, with field names prefixed.
func (o *ForecastOptions) check(e *semevent.OptionsError, prefix string) {
	if o == nil {
		return
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"Alpha", o.Alpha}, {"Beta", o.Beta}, {"Gamma", o.Gamma}} {
		if f.v < 0 || f.v > 1 {
			e.Addf(prefix+f.name, "%v outside [0, 1]", f.v)
		}
	}
	negative(e, prefix+"Season", float64(o.Season))
	negative(e, prefix+"Z", o.Z)
}

// HoltWinters is an additive Holt-Winters (triple exponential smoothing)
// forecaster for a regularly spaced series, such as one key's counts per
// window. Not safe for concurrent use.
type HoltWinters struct {
	o            ForecastOptions
	n            int
	level, trend float64
	season       []float64
	first        []float64 // the first two cycles, until the model is initialised
	sse          float64   // sum of squared one-step errors
	errs         int
}

// Prediction is a forecast value with its prediction interval.
type Prediction struct {
	Value, Lower, Upper float64
}

// NewHoltWinters returns a forecaster, or the problems of opts.
func NewHoltWinters(opts *ForecastOptions) (*HoltWinters, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var o ForecastOptions
	if opts != nil {
		o = *opts
	}
	if o.Alpha == 0 {
		o.Alpha = 0.5
	}
	if o.Beta == 0 {
		o.Beta = 0.1
	}
	if o.Gamma == 0 {
		o.Gamma = 0.3
	}
	if o.Z == 0 {
		o.Z = 1.96
	}
	h := &HoltWinters{o: o}
	if o.Season > 0 {
		h.season = make([]float64, o.Season)
	}
	return h, nil
}

// Observations returns the number of values observed.
func (h *HoltWinters) Observations() int { return h.n }

// Observe learns the next value of the series.
func (h *HoltWinters) Observe(v float64) {
	m := h.o.Season
	defer func() { h.n++ }()
	if m > 0 && h.n < 2*m {
		// Initialise from the first two cycles: the trend from their
		// means, the seasons from the detrended deviations, the level at
		// the end of the second cycle.
		h.first = append(h.first, v)
		if h.n == 2*m-1 {
			var m1, m2 float64
			for i := range m {
				m1 += h.first[i]
				m2 += h.first[m+i]
			}
			m1, m2 = m1/float64(m), m2/float64(m)
			h.trend = (m2 - m1) / float64(m)
			mid := float64(m-1) / 2
			for i := range m {
				h.season[i] = ((h.first[i]-m1)+(h.first[m+i]-m2))/2 - h.trend*(float64(i)-mid)
			}
			h.level = m2 + h.trend*mid
			h.first = nil
		}
		return
	}
	if m == 0 && h.n == 0 {
		h.level = v
		return
	}
	var s float64
	slot := 0
	if m > 0 {
		slot = h.n % m
		s = h.season[slot]
	}
	pred := h.level + h.trend + s
	h.sse += (v - pred) * (v - pred)
	h.errs++
	last := h.level
	h.level = h.o.Alpha*(v-s) + (1-h.o.Alpha)*(h.level+h.trend)
	h.trend = h.o.Beta*(h.level-last) + (1-h.o.Beta)*h.trend
	if m > 0 {
		h.season[slot] = h.o.Gamma*(v-h.level) + (1-h.o.Gamma)*s
	}
}

// Forecast predicts the next steps values. The interval is
// value ± Z·σ·√h, σ the root mean square one-step error so far, h the
// steps ahead. Before the model has seen two cycles (or one value
// without seasons), it returns NaN values.
func (h *HoltWinters) Forecast(steps int) []Prediction {
	out := make([]Prediction, steps)
	ready := h.n > 0 && h.n >= 2*h.o.Season
	sigma := 0.0
	if h.errs > 0 {
		sigma = math.Sqrt(h.sse / float64(h.errs))
	}
	for i := range out {
		if !ready {
			out[i] = Prediction{math.NaN(), math.NaN(), math.NaN()}
			continue
		}
		k := float64(i + 1)
		v := h.level + k*h.trend
		if m := h.o.Season; m > 0 {
			v += h.season[(h.n+i)%m]
		}
		w := h.o.Z * sigma * math.Sqrt(k)
		out[i] = Prediction{Value: v, Lower: v - w, Upper: v + w}
	}
	return out
}
