package filter

import (
	"time"

	"github.com/vexfs/semevent"
)

type timeRange struct{ from, to int64 }

// TimeRange matches events whose event time lies in [from, to). A zero
// from or to leaves that side open.
func TimeRange(from, to time.Time) Filter {
	r := timeRange{from: -1 << 63, to: 1<<63 - 1}
	if !from.IsZero() {
		r.from = from.UnixNano()
	}
	if !to.IsZero() {
		r.to = to.UnixNano()
	}
	return r
}

func (r timeRange) Match(ev *semevent.Event) bool { return ev.Time >= r.from && ev.Time < r.to }
func (timeRange) Fields() FieldSet                { return FieldTime }

type timeOfDay struct {
	from, to time.Duration
	loc      *time.Location
}

// TimeOfDay matches events whose event time, read as a wall clock in loc
// (UTC when nil), falls in the daily window [from, to), both measured from
// midnight. A window with from > to wraps past midnight: TimeOfDay(22h,
// 6h, loc) matches nights. An invalid window (outside [0, 24h]) yields an
// *[semevent.OptionsError].
func TimeOfDay(from, to time.Duration, loc *time.Location) (Filter, error) {
	p := &semevent.OptionsError{Options: "filter.TimeOfDay"}
	if from < 0 || from > 24*time.Hour {
		p.Addf("from", "%v outside [0, 24h]", from)
	}
	if to < 0 || to > 24*time.Hour {
		p.Addf("to", "%v outside [0, 24h]", to)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	return timeOfDay{from, to, loc}, nil
}

func (w timeOfDay) Match(ev *semevent.Event) bool {
	t := time.Unix(0, ev.Time).In(w.loc)
	h, m, s := t.Clock()
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
	if w.from <= w.to {
		return d >= w.from && d < w.to
	}
	return d >= w.from || d < w.to
}
func (timeOfDay) Fields() FieldSet { return FieldTime }
