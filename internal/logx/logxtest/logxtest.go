// Package logxtest is a recording slog.Handler for semevent's own tests.
package logxtest

import (
	"context"
	"log/slog"
	"sync"
)

// Record is one logged line with its attributes flattened to key → value
// (groups joined with ".").
type Record struct {
	Level   slog.Level
	Message string
	Attrs   map[string]any
}

// Recorder is a slog.Handler that keeps every record at or above Level.
// It is safe for concurrent use; Records returns copies.
type Recorder struct {
	Level slog.Level

	mu   *sync.Mutex
	recs *[]Record
	pre  []slog.Attr
}

// New returns a Recorder keeping records at level and above, and a logger
// writing to it.
func New(level slog.Level) (*Recorder, *slog.Logger) {
	r := &Recorder{Level: level, mu: new(sync.Mutex), recs: new([]Record)}
	return r, slog.New(r)
}

func (r *Recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.Level }

func (r *Recorder) Handle(_ context.Context, rec slog.Record) error {
	m := make(map[string]any)
	for _, a := range r.pre {
		m[a.Key] = a.Value.Resolve().Any()
	}
	rec.Attrs(func(a slog.Attr) bool {
		flatten(m, "", a)
		return true
	})
	r.mu.Lock()
	*r.recs = append(*r.recs, Record{Level: rec.Level, Message: rec.Message, Attrs: m})
	r.mu.Unlock()
	return nil
}

func flatten(m map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			flatten(m, prefix+a.Key+".", g)
		}
		return
	}
	m[prefix+a.Key] = v.Any()
}

func (r *Recorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.pre = append(append([]slog.Attr(nil), r.pre...), as...)
	return &c
}

// WithGroup is not needed by semevent's loggers; attributes stay flat.
func (r *Recorder) WithGroup(string) slog.Handler { return r }

// Records returns a copy of what was logged so far.
func (r *Recorder) Records() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Record(nil), *r.recs...)
}

// Find returns the records whose message is msg.
func (r *Recorder) Find(msg string) []Record {
	var out []Record
	for _, rec := range r.Records() {
		if rec.Message == msg {
			out = append(out, rec)
		}
	}
	return out
}
