package filter

import (
	"unsafe"

	"github.com/vexfs/semevent"
)

// Env is the environment expr conditions are compiled and run against: the
// event's fields by name. Kind and Boundary are their short names ("write",
// "fuse"), numbers are int, Topic is [semevent.Event.TopicOrKind] and Data
// is the payload as a string. Attributes are read with Attr("key") and
// HasAttr("key").
//
//	Kind == "write" && Size > 4096 && Path startsWith "/data/"
//	Attr("owner") in ["alice", "bob"] || Priority >= 10
type Env struct {
	Kind     string
	Boundary string
	Priority int
	Topic    string
	Tenant   string
	Path     string
	OldPath  string
	Inode    int
	PID      int
	UID      int
	GID      int
	Offset   int
	Size     int
	Time     int
	Data     string

	ev *semevent.Event
}

func (e *Env) set(ev *semevent.Event) {
	*e = Env{
		Kind:     ev.Kind.String(),
		Boundary: ev.Boundary.String(),
		Priority: int(ev.Priority),
		Topic:    ev.TopicOrKind(),
		Tenant:   ev.Tenant,
		Path:     ev.Path,
		OldPath:  ev.OldPath,
		Inode:    int(ev.Inode),
		PID:      int(ev.PID),
		UID:      int(ev.UID),
		GID:      int(ev.GID),
		Offset:   int(ev.Offset),
		Size:     int(ev.Size),
		Time:     int(ev.Time),
		Data:     bytesString(ev.Data),
		ev:       ev,
	}
}

// Attr returns the value of the event's attribute key, "" when absent.
func (e *Env) Attr(key string) string {
	if e.ev == nil {
		return ""
	}
	v, _ := e.ev.Attr(key)
	return v
}

// HasAttr reports whether the event has the attribute key.
func (e *Env) HasAttr(key string) bool {
	if e.ev == nil {
		return false
	}
	_, ok := e.ev.Attr(key)
	return ok
}

// bytesString views b as a string without copying; events are read-only
// while filters run.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Accessors shared by the closure compiler.
type intField struct {
	bit FieldSet
	get func(ev *semevent.Event) int
}

type strField struct {
	bit FieldSet
	get func(ev *semevent.Event) string
}

var intFields = map[string]intField{
	"Priority": {FieldPriority, func(ev *semevent.Event) int { return int(ev.Priority) }},
	"Inode":    {FieldInode, func(ev *semevent.Event) int { return int(ev.Inode) }},
	"PID":      {FieldPID, func(ev *semevent.Event) int { return int(ev.PID) }},
	"UID":      {FieldUID, func(ev *semevent.Event) int { return int(ev.UID) }},
	"GID":      {FieldGID, func(ev *semevent.Event) int { return int(ev.GID) }},
	"Offset":   {FieldOffset, func(ev *semevent.Event) int { return int(ev.Offset) }},
	"Size":     {FieldSize, func(ev *semevent.Event) int { return int(ev.Size) }},
	"Time":     {FieldTime, func(ev *semevent.Event) int { return int(ev.Time) }},
}

var strFields = map[string]strField{
	"Kind":     {FieldKind, func(ev *semevent.Event) string { return ev.Kind.String() }},
	"Boundary": {FieldBoundary, func(ev *semevent.Event) string { return ev.Boundary.String() }},
	"Topic":    {FieldTopic, func(ev *semevent.Event) string { return ev.TopicOrKind() }},
	"Tenant":   {FieldTenant, func(ev *semevent.Event) string { return ev.Tenant }},
	"Path":     {FieldPath, func(ev *semevent.Event) string { return ev.Path }},
	"OldPath":  {FieldOldPath, func(ev *semevent.Event) string { return ev.OldPath }},
	"Data":     {FieldData, func(ev *semevent.Event) string { return bytesString(ev.Data) }},
}
