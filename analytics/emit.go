package analytics

import (
	"math"
	"strconv"

	"github.com/vexfs/semevent"
)

// Attribute keys of the events that [ResultEvent] and [AnomalyEvent] make.
const (
	AttrName       = "name"
	AttrKey        = "key"   // the key's S; the event's Tenant is the key's tenant
	AttrKeyN       = "key_n" // the key's N, when not 0
	AttrPartial    = "partial"
	AttrStart      = "window_start"
	AttrEnd        = "window_end"
	AttrUpdate     = "update"
	AttrCount      = "count"
	AttrSum        = "sum"
	AttrMin        = "min"
	AttrMax        = "max"
	AttrMean       = "mean"
	AttrDistinct   = "distinct"
	AttrP50        = "p50"
	AttrP90        = "p90"
	AttrP99        = "p99"
	AttrValue      = "value"
	AttrBaseline   = "baseline"
	AttrStdDev     = "stddev"
	AttrScore      = "score"
	AttrSeasonal   = "seasonal"
	AttrForecast   = "forecast"    // the next window's forecast count
	AttrForecastLo = "forecast_lo" // its prediction interval
	AttrForecastHi = "forecast_hi"
)

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// ResultEvent returns r as an event on topic: kind Custom, time the
// window's end, the figures as attributes for filters and people, and the
// whole aggregate, sketches included, in Data (see
// [Aggregate.MarshalBinary]) so that another node can merge it; decode it
// with [DecodeResult].
func ResultEvent(topic string, r *Result) *semevent.Event {
	a := r.Agg
	ev := &semevent.Event{Kind: semevent.KindCustom, Topic: topic, Time: r.End, Tenant: r.Key.Tenant}
	ev.Attrs = append(make([]semevent.Attr, 0, 16),
		semevent.Attr{Key: AttrName, Value: r.Name},
		semevent.Attr{Key: AttrKey, Value: r.Key.S},
		semevent.Attr{Key: AttrStart, Value: strconv.FormatInt(r.Start, 10)},
		semevent.Attr{Key: AttrEnd, Value: strconv.FormatInt(r.End, 10)},
		semevent.Attr{Key: AttrCount, Value: strconv.FormatUint(a.Count, 10)},
		semevent.Attr{Key: AttrSum, Value: ftoa(a.Sum)},
		semevent.Attr{Key: AttrMin, Value: ftoa(a.Min)},
		semevent.Attr{Key: AttrMax, Value: ftoa(a.Max)},
		semevent.Attr{Key: AttrMean, Value: ftoa(a.Mean())},
	)
	if r.Key.N != 0 {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrKeyN, Value: strconv.FormatUint(r.Key.N, 10)})
	}
	if r.Update {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrUpdate, Value: "true"})
	}
	if r.Partial {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrPartial, Value: "true"})
	}
	if r.Next != nil {
		ev.Attrs = append(ev.Attrs,
			semevent.Attr{Key: AttrForecast, Value: ftoa(r.Next.Value)},
			semevent.Attr{Key: AttrForecastLo, Value: ftoa(r.Next.Lower)},
			semevent.Attr{Key: AttrForecastHi, Value: ftoa(r.Next.Upper)})
	}
	if a.Distinct != nil || a.ApproxDistinct != nil {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrDistinct, Value: ftoa(math.Round(a.DistinctCount()))})
	}
	if a.Quantiles != nil && a.Quantiles.Count() > 0 {
		ev.Attrs = append(ev.Attrs,
			semevent.Attr{Key: AttrP50, Value: ftoa(a.Quantile(0.5))},
			semevent.Attr{Key: AttrP90, Value: ftoa(a.Quantile(0.9))},
			semevent.Attr{Key: AttrP99, Value: ftoa(a.Quantile(0.99))})
	}
	ev.Data, _ = a.MarshalBinary()
	return ev
}

// DecodeResult turns an event made by [ResultEvent] back into a Result.
// It returns a *[DecodeError] for anything else.
func DecodeResult(ev *semevent.Event) (*Result, error) {
	if ev == nil {
		return nil, semevent.ErrNilEvent
	}
	fail := func(msg string, err error) (*Result, error) {
		return nil, &DecodeError{What: "result event", Msg: msg, Err: err}
	}
	r := &Result{}
	var ok bool
	if r.Name, ok = ev.Attr(AttrName); !ok {
		return fail("no "+AttrName+" attribute", nil)
	}
	r.Key.Tenant = ev.Tenant
	if r.Key.S, ok = ev.Attr(AttrKey); !ok {
		return fail("no "+AttrKey+" attribute", nil)
	}
	if s, ok := ev.Attr(AttrKeyN); ok {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return fail("attribute "+AttrKeyN, err)
		}
		r.Key.N = n
	}
	for _, f := range []struct {
		key string
		dst *int64
	}{{AttrStart, &r.Start}, {AttrEnd, &r.End}} {
		s, _ := ev.Attr(f.key)
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fail("attribute "+f.key, err)
		}
		*f.dst = v
	}
	if r.Start > r.End {
		return fail("window start after end", nil)
	}
	_, r.Update = ev.Attr(AttrUpdate)
	_, r.Partial = ev.Attr(AttrPartial)
	r.Agg = &Aggregate{}
	if err := r.Agg.UnmarshalBinary(ev.Data); err != nil {
		return nil, err
	}
	return r, nil
}

// AnomalyEvent returns a as an event on topic: kind Custom, time a.Time,
// value, baseline, standard deviation and score as attributes.
func AnomalyEvent(topic string, a Anomaly) *semevent.Event {
	ev := &semevent.Event{Kind: semevent.KindCustom, Topic: topic, Time: a.Time, Priority: semevent.PriorityHigh, Tenant: a.Key.Tenant}
	ev.Attrs = []semevent.Attr{
		{Key: AttrKey, Value: a.Key.S},
		{Key: AttrValue, Value: ftoa(a.Value)},
		{Key: AttrBaseline, Value: ftoa(a.Baseline)},
		{Key: AttrStdDev, Value: ftoa(a.StdDev)},
		{Key: AttrScore, Value: ftoa(a.Score)},
		{Key: AttrSeasonal, Value: strconv.FormatBool(a.Seasonal)},
	}
	if a.Key.N != 0 {
		ev.Attrs = append(ev.Attrs, semevent.Attr{Key: AttrKeyN, Value: strconv.FormatUint(a.Key.N, 10)})
	}
	return ev
}
