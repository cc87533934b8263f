package filter

import (
	"unsafe"

	"github.com/expr-lang/expr/vm"

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

// vmEnv is the environment the expr VM runs against: Env's fields, and
// Attr and HasAttr as function fields rather than methods. expr's field
// access on a type with methods calls reflect.Value.MethodByName first, on
// every access; on a method-less struct the compiler resolves each field to
// its index once (OpLoadField). TestVMEnvMatchesEnv keeps the two field
// lists equal.
type vmEnv struct {
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

	Attr    func(key string) string
	HasAttr func(key string) bool
}

// vmState is one VM with its environment, pooled per Expr. Attr and
// HasAttr are bound to the state once, so running the VM allocates no
// closure per event.
type vmState struct {
	vm  vm.VM
	env vmEnv
	ev  *semevent.Event
}

func newVMState() *vmState {
	s := new(vmState)
	s.env.Attr = s.attr
	s.env.HasAttr = s.hasAttr
	return s
}

func (s *vmState) attr(key string) string {
	v, _ := s.ev.Attr(key)
	return v
}

func (s *vmState) hasAttr(key string) bool {
	_, ok := s.ev.Attr(key)
	return ok
}

// set points the environment at ev.
func (s *vmState) set(ev *semevent.Event) {
	s.ev = ev
	e := &s.env
	e.Kind = ev.Kind.String()
	e.Boundary = ev.Boundary.String()
	e.Priority = int(ev.Priority)
	e.Topic = ev.TopicOrKind()
	e.Tenant = ev.Tenant
	e.Path = ev.Path
	e.OldPath = ev.OldPath
	e.Inode = int(ev.Inode)
	e.PID = int(ev.PID)
	e.UID = int(ev.UID)
	e.GID = int(ev.GID)
	e.Offset = int(ev.Offset)
	e.Size = int(ev.Size)
	e.Time = int(ev.Time)
	e.Data = bytesString(ev.Data)
}

// clear drops the references to the event.
func (s *vmState) clear() {
	s.ev = nil
	s.env.Tenant, s.env.Path, s.env.OldPath, s.env.Data, s.env.Topic = "", "", "", "", ""
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
