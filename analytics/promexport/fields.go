package promexport

import (
	"reflect"
	"strings"
	"time"
	"unicode"
)

// FieldsSource turns a stats struct into a [Source] by reflection, so that
// a component's Stats method plugs in without an adapter:
//
//	Automation: promexport.FieldsSource(func() any { return engine.Stats() }),
//	Coordinator: promexport.FieldsSource(func() any { return coord.Stats() }),
//
// Each exported field becomes one metric named after it in snake case:
// uint64 fields are counters with a _total suffix (Fired →
// fired_total), other integer and float fields gauges (Rules → rules),
// time.Duration fields gauges in seconds (Latency → latency_seconds),
// and nested structs prefix their fields' names (Dropped.Full →
// dropped_full_total). Other field types are skipped.
func FieldsSource(stats func() any) Source {
	return func() []Metric {
		var out []Metric
		walkFields(reflect.ValueOf(stats()), "", &out)
		return out
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

func walkFields(v reflect.Value, prefix string, out *[]Metric) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := prefix + snake(f.Name)
		fv := v.Field(i)
		help := t.Name() + "." + f.Name
		switch {
		case f.Type == durationType:
			*out = append(*out, Metric{Name: name + "_seconds", Help: help + ", in seconds.", Value: time.Duration(fv.Int()).Seconds()})
		case fv.Kind() == reflect.Uint64:
			*out = append(*out, Metric{Name: name + "_total", Help: help + ".", Counter: true, Value: float64(fv.Uint())})
		case fv.CanInt():
			*out = append(*out, Metric{Name: name, Help: help + ".", Value: float64(fv.Int())})
		case fv.CanUint():
			*out = append(*out, Metric{Name: name, Help: help + ".", Value: float64(fv.Uint())})
		case fv.CanFloat():
			*out = append(*out, Metric{Name: name, Help: help + ".", Value: fv.Float()})
		case fv.Kind() == reflect.Struct:
			walkFields(fv, name+"_", out)
		}
	}
}

// snake turns "ActionErrors" into "action_errors" and "P99" into "p99".
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1])) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
