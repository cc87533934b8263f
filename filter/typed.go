package filter

import (
	"errors"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/glob"
)

// The typed builders below compile to plain Go: each Match is a few
// comparisons with no allocation. All of them are [FieldReader]s.

type constFilter bool

func (c constFilter) Match(*semevent.Event) bool { return bool(c) }
func (constFilter) Fields() FieldSet             { return 0 }

// All matches every event; None matches none.
var (
	All  Filter = constFilter(true)
	None Filter = constFilter(false)
)

type kindFilter uint64

// Kinds matches events whose Kind is one of ks.
func Kinds(ks ...semevent.Kind) Filter {
	var m kindFilter
	for _, k := range ks {
		if k < 64 {
			m |= 1 << k
		}
	}
	return m
}

func (m kindFilter) Match(ev *semevent.Event) bool { return ev.Kind < 64 && m&(1<<ev.Kind) != 0 }
func (kindFilter) Fields() FieldSet                { return FieldKind }

type boundaryFilter semevent.BoundarySet

// Boundaries matches events observed at one of bs.
func Boundaries(bs ...semevent.Boundary) Filter {
	return boundaryFilter(semevent.Boundaries(bs...))
}

func (s boundaryFilter) Match(ev *semevent.Event) bool {
	return semevent.BoundarySet(s).Has(ev.Boundary)
}
func (boundaryFilter) Fields() FieldSet { return FieldBoundary }

type pathPrefix string

// PathPrefix matches events whose Path starts with prefix.
func PathPrefix(prefix string) Filter { return pathPrefix(prefix) }

func (p pathPrefix) Match(ev *semevent.Event) bool {
	return len(ev.Path) >= len(p) && ev.Path[:len(p)] == string(p)
}
func (pathPrefix) Fields() FieldSet { return FieldPath }

type pathGlob struct{ g *glob.Glob }

// PathGlob matches events whose Path matches the glob pattern: '*' and '?'
// within a segment, '[a-z]' classes, and '**' as a whole segment for any
// number of segments ("/data/**/*.log"). A malformed pattern yields a
// *[PatternError] with the byte position of the problem.
func PathGlob(pattern string) (Filter, error) {
	g, err := glob.Compile(pattern)
	if err != nil {
		var ge *glob.Error
		if errors.As(err, &ge) {
			return nil, &PatternError{Pattern: pattern, Pos: ge.Pos, Msg: ge.Msg}
		}
		return nil, err
	}
	return pathGlob{g}, nil
}

func (p pathGlob) Match(ev *semevent.Event) bool { return p.g.Match(ev.Path) }
func (pathGlob) Fields() FieldSet                { return FieldPath }

type sizeRange struct{ lo, hi int64 }

// SizeRange matches events with lo ≤ Size ≤ hi.
func SizeRange(lo, hi int64) Filter { return sizeRange{lo, hi} }

func (r sizeRange) Match(ev *semevent.Event) bool { return ev.Size >= r.lo && ev.Size <= r.hi }
func (sizeRange) Fields() FieldSet                { return FieldSize }

type attrEquals struct{ key, value string }

// AttrEquals matches events that have the attribute key with value.
func AttrEquals(key, value string) Filter { return attrEquals{key, value} }

func (a attrEquals) Match(ev *semevent.Event) bool {
	for i := range ev.Attrs {
		if ev.Attrs[i].Key == a.key {
			return ev.Attrs[i].Value == a.value
		}
	}
	return false
}
func (attrEquals) Fields() FieldSet { return FieldAttrs }

type tenants []string

// Tenants matches events of one of the tenants ts.
func Tenants(ts ...string) Filter {
	if len(ts) == 1 {
		return tenant(ts[0])
	}
	return tenants(append([]string(nil), ts...))
}

func (ts tenants) Match(ev *semevent.Event) bool {
	for _, t := range ts {
		if ev.Tenant == t {
			return true
		}
	}
	return false
}
func (tenants) Fields() FieldSet { return FieldTenant }

type tenant string

func (t tenant) Match(ev *semevent.Event) bool { return ev.Tenant == string(t) }
func (tenant) Fields() FieldSet                { return FieldTenant }

type priorityRange struct{ lo, hi semevent.Priority }

// PriorityAtLeast matches events with Priority ≥ p.
func PriorityAtLeast(p semevent.Priority) Filter { return priorityRange{p, 127} }

// PriorityBetween matches events with lo ≤ Priority ≤ hi.
func PriorityBetween(lo, hi semevent.Priority) Filter { return priorityRange{lo, hi} }

func (r priorityRange) Match(ev *semevent.Event) bool {
	return ev.Priority >= r.lo && ev.Priority <= r.hi
}
func (priorityRange) Fields() FieldSet { return FieldPriority }

// And matches events that every f matches, evaluated in order and stopping
// at the first that does not. And() matches everything.
func And(fs ...Filter) Filter {
	switch len(fs) {
	case 0:
		return All
	case 1:
		return fs[0]
	case 2:
		return and2{fs[0], fs[1], fieldsOf(fs)}
	}
	return and{append([]Filter(nil), fs...), fieldsOf(fs)}
}

// Or matches events that some f matches, evaluated in order and stopping at
// the first that does. Or() matches nothing.
func Or(fs ...Filter) Filter {
	switch len(fs) {
	case 0:
		return None
	case 1:
		return fs[0]
	case 2:
		return or2{fs[0], fs[1], fieldsOf(fs)}
	}
	return or{append([]Filter(nil), fs...), fieldsOf(fs)}
}

// Not matches events f does not match.
func Not(f Filter) Filter { return not{f, fieldsOf([]Filter{f})} }

type and struct {
	fs     []Filter
	fields FieldSet
}

func (a and) Match(ev *semevent.Event) bool {
	for _, f := range a.fs {
		if !f.Match(ev) {
			return false
		}
	}
	return true
}
func (a and) Fields() FieldSet { return a.fields }

type and2 struct {
	a, b   Filter
	fields FieldSet
}

func (a and2) Match(ev *semevent.Event) bool { return a.a.Match(ev) && a.b.Match(ev) }
func (a and2) Fields() FieldSet              { return a.fields }

type or struct {
	fs     []Filter
	fields FieldSet
}

func (o or) Match(ev *semevent.Event) bool {
	for _, f := range o.fs {
		if f.Match(ev) {
			return true
		}
	}
	return false
}
func (o or) Fields() FieldSet { return o.fields }

type or2 struct {
	a, b   Filter
	fields FieldSet
}

func (o or2) Match(ev *semevent.Event) bool { return o.a.Match(ev) || o.b.Match(ev) }
func (o or2) Fields() FieldSet              { return o.fields }

type not struct {
	f      Filter
	fields FieldSet
}

func (n not) Match(ev *semevent.Event) bool { return !n.f.Match(ev) }
func (n not) Fields() FieldSet              { return n.fields }

// fieldsOf returns the union of the operands' fields, or FieldsUnknown
// when one of them does not declare its fields.
func fieldsOf(operands []Filter) FieldSet {
	var all FieldSet
	for _, o := range operands {
		s, ok := Fields(o)
		if !ok {
			return FieldsUnknown
		}
		all |= s
	}
	return all
}
