package semevent

import (
	"fmt"
	"strings"
)

// Kind says what happened. The zero value is [KindUnknown]; kinds beyond the
// predefined ones use [KindCustom] with a [Event.Topic] that names them.
type Kind uint8

// The predefined kinds. File-system kinds come first, then directory kinds,
// then the semantic kinds that semevent's own packages emit.
const (
	// KindUnknown is the zero Kind: an event whose kind was not set.
	// Expr name "unknown", topic "unknown".
	KindUnknown Kind = iota

	// KindFileCreate: a file was created.
	// Expr name "create", topic "fs.file.create".
	KindFileCreate

	// KindFileOpen: a file was opened.
	// Expr name "open", topic "fs.file.open".
	KindFileOpen

	// KindFileRead: a file was read (Offset and Size say where).
	// Expr name "read", topic "fs.file.read".
	KindFileRead

	// KindFileWrite: a file was written (Offset and Size say where).
	// Expr name "write", topic "fs.file.write".
	KindFileWrite

	// KindFileClose: an open file was closed.
	// Expr name "close", topic "fs.file.close".
	KindFileClose

	// KindFileTruncate: a file's size was set (Size is the new size).
	// Expr name "truncate", topic "fs.file.truncate".
	KindFileTruncate

	// KindFileRename: a file or directory moved from OldPath to Path.
	// Expr name "rename", topic "fs.file.rename".
	KindFileRename

	// KindFileDelete: a file was removed.
	// Expr name "delete", topic "fs.file.delete".
	KindFileDelete

	// KindFileChmod: a file's mode, owner or times changed.
	// Expr name "chmod", topic "fs.file.chmod".
	KindFileChmod

	// KindFileXattr: a file's extended attributes changed.
	// Expr name "xattr", topic "fs.file.xattr".
	KindFileXattr

	// KindDirCreate: a directory was created.
	// Expr name "mkdir", topic "fs.dir.create".
	KindDirCreate

	// KindDirDelete: a directory was removed.
	// Expr name "rmdir", topic "fs.dir.delete".
	KindDirDelete

	// KindVectorInsert: a vector (an embedding in Data) was inserted.
	// Expr name "vector_insert", topic "semantic.vector.insert".
	KindVectorInsert

	// KindGraphEdge: an edge was added to a graph.
	// Expr name "graph_edge", topic "semantic.graph.edge".
	KindGraphEdge

	// KindRuleFired: an automation rule fired.
	// Expr name "rule_fired", topic "automation.rule.fired".
	KindRuleFired

	// KindWorkflowStep: a workflow step ran.
	// Expr name "workflow_step", topic "automation.workflow.step".
	KindWorkflowStep

	// KindPatternMatched: a complex-event pattern matched.
	// Expr name "pattern_matched", topic "automation.pattern.matched".
	KindPatternMatched

	// KindCustom: a kind of the user's own, named by Event.Topic.
	// Expr name "custom", topic "custom".
	KindCustom

	kindCount // number of kinds; keep last
)

// kindNames holds each kind's short name and the topic derived from it.
var kindNames = [kindCount]struct{ name, topic string }{
	KindUnknown:        {"unknown", "unknown"},
	KindFileCreate:     {"create", "fs.file.create"},
	KindFileOpen:       {"open", "fs.file.open"},
	KindFileRead:       {"read", "fs.file.read"},
	KindFileWrite:      {"write", "fs.file.write"},
	KindFileClose:      {"close", "fs.file.close"},
	KindFileTruncate:   {"truncate", "fs.file.truncate"},
	KindFileRename:     {"rename", "fs.file.rename"},
	KindFileDelete:     {"delete", "fs.file.delete"},
	KindFileChmod:      {"chmod", "fs.file.chmod"},
	KindFileXattr:      {"xattr", "fs.file.xattr"},
	KindDirCreate:      {"mkdir", "fs.dir.create"},
	KindDirDelete:      {"rmdir", "fs.dir.delete"},
	KindVectorInsert:   {"vector_insert", "semantic.vector.insert"},
	KindGraphEdge:      {"graph_edge", "semantic.graph.edge"},
	KindRuleFired:      {"rule_fired", "automation.rule.fired"},
	KindWorkflowStep:   {"workflow_step", "automation.workflow.step"},
	KindPatternMatched: {"pattern_matched", "automation.pattern.matched"},
	KindCustom:         {"custom", "custom"},
}

// String returns the kind's short name ("write", "mkdir", …), the name used
// in expr conditions and by [ParseKind].
func (k Kind) String() string {
	if k < kindCount {
		return kindNames[k].name
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Topic returns the dot-separated subject derived from the kind, such as
// "fs.file.write". It is the topic of an event whose [Event.Topic] is empty.
func (k Kind) Topic() string {
	if k < kindCount {
		return kindNames[k].topic
	}
	return "unknown"
}

// Valid reports whether k is one of the predefined kinds.
func (k Kind) Valid() bool { return k < kindCount }

// IsFile reports whether k is a file or directory operation.
func (k Kind) IsFile() bool { return k >= KindFileCreate && k <= KindDirDelete }

// Kinds returns every predefined kind in order.
func Kinds() []Kind {
	ks := make([]Kind, kindCount)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// ParseKind returns the kind whose short name or topic is s, ignoring case.
// An unknown name yields a *[ParseError].
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if strings.EqualFold(s, n.name) || strings.EqualFold(s, n.topic) {
			return Kind(i), nil
		}
	}
	return KindUnknown, &ParseError{Type: "Kind", Input: s, Pos: 0, Msg: "unknown kind"}
}

// MarshalText implements encoding.TextMarshaler with the kind's short name.
func (k Kind) MarshalText() ([]byte, error) {
	if !k.Valid() {
		return nil, &ParseError{Type: "Kind", Input: k.String(), Msg: "kind out of range"}
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; see [ParseKind].
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
