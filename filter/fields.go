package filter

import "strings"

// FieldSet is a set of event fields, one bit each: what a filter reads.
type FieldSet uint32

// The fields of [semevent.Event] a filter can read.
const (
	FieldKind FieldSet = 1 << iota
	FieldBoundary
	FieldPriority
	FieldTopic // Event.TopicOrKind(): Topic, or Kind when Topic is empty
	FieldTenant
	FieldPath
	FieldOldPath
	FieldInode
	FieldPID
	FieldUID
	FieldGID
	FieldOffset
	FieldSize
	FieldTime
	FieldAttrs
	FieldData

	fieldEnd
)

// FieldsAll holds every field.
const FieldsAll = fieldEnd - 1

// FieldsUnknown is what a combinator's Fields returns when one of its
// operands does not declare the fields it reads (or is stateful): [Fields]
// then reports false.
const FieldsUnknown FieldSet = 1 << 31

var fieldNames = []string{"Kind", "Boundary", "Priority", "Topic", "Tenant", "Path", "OldPath",
	"Inode", "PID", "UID", "GID", "Offset", "Size", "Time", "Attrs", "Data"}

// String lists the fields joined by "|", or "none".
func (s FieldSet) String() string {
	var parts []string
	for i, n := range fieldNames {
		if s&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// FieldReader is implemented by deterministic filters that can say which
// fields of the event their result depends on: two events equal in those
// fields get the same answer. [NewCache] keys its entries by them. Stateful
// filters (rate limits, sampling) must not implement it, and a filter that
// wraps others returns [FieldsUnknown] when one of them does not.
type FieldReader interface {
	Fields() FieldSet
}

// Fields returns the fields f reads and true when f is a [FieldReader]
// that knows them.
func Fields(f Filter) (FieldSet, bool) {
	if r, ok := f.(FieldReader); ok {
		if s := r.Fields(); s&FieldsUnknown == 0 {
			return s, true
		}
	}
	return 0, false
}
