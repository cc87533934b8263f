package semevent

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// Event is the value every semevent package passes around: what happened,
// where it was observed, to what, by whom, and the context that must survive
// every hop unchanged (trace, cause, attributes).
//
// Events travel by pointer. Whoever publishes an event hands it over: after
// Publish the publisher must not modify it, and handlers must treat it as
// read-only, since every subscriber receives the same pointer. Use
// [Event.Clone] to keep a mutable copy.
type Event struct {
	ID       ID       // unique, time-ordered; assigned on publish when zero
	Kind     Kind     // what happened
	Boundary Boundary // where it was observed
	Priority Priority // higher is more urgent
	Topic    string   // dot-separated subject; empty means Kind.Topic()
	Tenant   string   // owning tenant; empty for single-tenant use

	Path    string // the file or directory, as seen at the boundary
	OldPath string // the previous path of a rename
	Inode   uint64
	PID     uint32 // the process that caused it, 0 if unknown
	UID     uint32
	GID     uint32
	Offset  int64 // byte offset of a read or write
	Size    int64 // bytes read or written, or the new size of a truncate
	Time    int64 // event time, Unix nanoseconds; set on publish when zero

	Trace TraceContext // W3C trace context
	Cause ID           // the event that caused this one, zero if none
	Attrs []Attr       // small key/value context; keys are unique

	// Seen is the set of boundaries at which this operation was observed; it
	// holds more than Boundary when deduplication folded observations of the
	// same operation into this event, and Observed then lists the others.
	Seen     BoundarySet
	Observed []Observation

	Data []byte // payload: an embedding, a custom body
}

// Attr is one key/value attribute of an event.
type Attr struct {
	Key, Value string
}

// Observation records one other sighting of an event's operation, kept when
// deduplication folded that sighting into the event.
type Observation struct {
	ID       ID
	Boundary Boundary
	Time     int64 // Unix nanoseconds
	PID      uint32
}

// TopicOrKind returns e.Topic, or the topic derived from e.Kind when empty.
func (e *Event) TopicOrKind() string {
	if e.Topic != "" {
		return e.Topic
	}
	return e.Kind.Topic()
}

// EventTime returns e.Time as a time.Time.
func (e *Event) EventTime() time.Time { return time.Unix(0, e.Time) }

// Attr returns the value of the attribute named key and whether it exists.
func (e *Event) Attr(key string) (string, bool) {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// SetAttr sets the attribute key to value, replacing an existing one.
func (e *Event) SetAttr(key, value string) {
	for i := range e.Attrs {
		if e.Attrs[i].Key == key {
			e.Attrs[i].Value = value
			return
		}
	}
	e.Attrs = append(e.Attrs, Attr{Key: key, Value: value})
}

// Clone returns a deep copy of e: no slice is shared.
func (e *Event) Clone() *Event {
	c := *e
	c.Attrs = slices.Clone(e.Attrs)
	c.Observed = slices.Clone(e.Observed)
	c.Data = bytes.Clone(e.Data)
	return &c
}

// Limits that [Event.Validate] enforces.
const (
	MaxTopicLen = 255
	MaxAttrs    = 64
)

// Validate checks that e can be published: a known kind and boundary, a
// well-formed topic, and attribute keys that are non-empty and unique.
// It returns an *[EventError] naming the field.
func (e *Event) Validate() error {
	if e == nil {
		return ErrNilEvent
	}
	fail := func(field, format string, args ...any) error {
		return &EventError{ID: e.ID, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if !e.Kind.Valid() {
		return fail("Kind", "unknown kind %d", uint8(e.Kind))
	}
	if !e.Boundary.Valid() {
		return fail("Boundary", "unknown boundary %d", uint8(e.Boundary))
	}
	if e.Topic != "" {
		if pos, msg := checkTopic(e.Topic); msg != "" {
			return fail("Topic", "%q at byte %d: %s", e.Topic, pos, msg)
		}
	}
	if len(e.Attrs) > MaxAttrs {
		return fail("Attrs", "%d attributes, at most %d allowed", len(e.Attrs), MaxAttrs)
	}
	for i, a := range e.Attrs {
		if a.Key == "" {
			return fail(fmt.Sprintf("Attrs[%d].Key", i), "empty key")
		}
		for _, b := range e.Attrs[:i] {
			if b.Key == a.Key {
				return fail(fmt.Sprintf("Attrs[%d].Key", i), "duplicate key %q", a.Key)
			}
		}
	}
	return nil
}

// checkTopic returns the position and a message for the first problem in a
// published topic: tokens of letters, digits, '_', '-' or ':' joined by dots.
// Wildcards belong to subscription patterns, not to events.
func checkTopic(t string) (int, string) {
	if len(t) > MaxTopicLen {
		return MaxTopicLen, fmt.Sprintf("longer than %d bytes", MaxTopicLen)
	}
	tokenStart := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			if i == tokenStart {
				return i, "empty token"
			}
			tokenStart = i + 1
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-', c == ':':
		case c == '*' || c == '>':
			return i, "wildcards are not allowed in an event's topic"
		default:
			return i, fmt.Sprintf("byte %q not allowed", c)
		}
	}
	if tokenStart == len(t) {
		return len(t), "empty token"
	}
	return 0, ""
}

// Diff lists the fields in which a and b differ, by name ("Trace.SpanID",
// "Attrs", …); nil means equal in every field. A nil slice and an empty one
// are equal. Tests use it to check that context survives a hop.
func Diff(a, b *Event) []string {
	var d []string
	add := func(ok bool, name string) {
		if !ok {
			d = append(d, name)
		}
	}
	add(a.ID == b.ID, "ID")
	add(a.Kind == b.Kind, "Kind")
	add(a.Boundary == b.Boundary, "Boundary")
	add(a.Priority == b.Priority, "Priority")
	add(a.Topic == b.Topic, "Topic")
	add(a.Tenant == b.Tenant, "Tenant")
	add(a.Path == b.Path, "Path")
	add(a.OldPath == b.OldPath, "OldPath")
	add(a.Inode == b.Inode, "Inode")
	add(a.PID == b.PID, "PID")
	add(a.UID == b.UID, "UID")
	add(a.GID == b.GID, "GID")
	add(a.Offset == b.Offset, "Offset")
	add(a.Size == b.Size, "Size")
	add(a.Time == b.Time, "Time")
	add(a.Trace.TraceID == b.Trace.TraceID, "Trace.TraceID")
	add(a.Trace.SpanID == b.Trace.SpanID, "Trace.SpanID")
	add(a.Trace.Flags == b.Trace.Flags, "Trace.Flags")
	add(a.Cause == b.Cause, "Cause")
	add(slices.Equal(a.Attrs, b.Attrs), "Attrs")
	add(a.Seen == b.Seen, "Seen")
	add(slices.Equal(a.Observed, b.Observed), "Observed")
	add(bytes.Equal(a.Data, b.Data), "Data")
	return d
}

// Handler receives events. Implementations say whether they may be called
// concurrently; the propagation bus calls one subscription's handler from
// one goroutine at a time unless the subscription asks for parallel workers.
//
// The context is the subscription's, cancelled when it ends, not a
// per-event one: per-event context travels in the event itself. A returned
// error is counted and reported; it does not stop delivery.
type Handler interface {
	Handle(ctx context.Context, ev *Event) error
}

// HandlerFunc adapts a function to [Handler].
type HandlerFunc func(ctx context.Context, ev *Event) error

// Handle calls f(ctx, ev).
func (f HandlerFunc) Handle(ctx context.Context, ev *Event) error { return f(ctx, ev) }
