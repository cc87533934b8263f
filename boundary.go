package semevent

import (
	"fmt"
	"strings"
)

// Boundary says where an event was observed.
type Boundary uint8

// The boundaries. [NumBoundaries] is their count: queues and statistics
// indexed by boundary have that many slots.
const (
	Userspace Boundary = iota // code calling the API in this process (the zero value)
	Kernel                    // the kernel watcher (fanotify or inotify)
	FUSE                      // a FUSE server
	Remote                    // another node of a cluster

	NumBoundaries = 4
)

var boundaryNames = [NumBoundaries]string{"userspace", "kernel", "fuse", "remote"}

// String returns the boundary's lower-case name.
func (b Boundary) String() string {
	if b < NumBoundaries {
		return boundaryNames[b]
	}
	return fmt.Sprintf("Boundary(%d)", uint8(b))
}

// Valid reports whether b is one of the four boundaries.
func (b Boundary) Valid() bool { return b < NumBoundaries }

// ParseBoundary returns the boundary named s, ignoring case.
func ParseBoundary(s string) (Boundary, error) {
	for i, n := range boundaryNames {
		if strings.EqualFold(s, n) {
			return Boundary(i), nil
		}
	}
	return 0, &ParseError{Type: "Boundary", Input: s, Msg: "unknown boundary"}
}

// BoundarySet is a set of boundaries, one bit each.
type BoundarySet uint8

// Boundaries returns the set holding bs.
func Boundaries(bs ...Boundary) BoundarySet {
	var s BoundarySet
	for _, b := range bs {
		s = s.With(b)
	}
	return s
}

// Has reports whether b is in s.
func (s BoundarySet) Has(b Boundary) bool { return b < NumBoundaries && s&(1<<b) != 0 }

// With returns s with b added.
func (s BoundarySet) With(b Boundary) BoundarySet {
	if b >= NumBoundaries {
		return s
	}
	return s | 1<<b
}

// Len returns the number of boundaries in s.
func (s BoundarySet) Len() int {
	n := 0
	for b := Boundary(0); b < NumBoundaries; b++ {
		if s.Has(b) {
			n++
		}
	}
	return n
}

// String lists the set's boundaries joined by "|", or "none".
func (s BoundarySet) String() string {
	var parts []string
	for b := Boundary(0); b < NumBoundaries; b++ {
		if s.Has(b) {
			parts = append(parts, b.String())
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Priority orders events for priority filters and schedulers; higher is more
// urgent. The zero value is [PriorityNormal].
type Priority int8

// Conventional priorities; any int8 value is allowed.
const (
	PriorityLow      Priority = -10
	PriorityNormal   Priority = 0
	PriorityHigh     Priority = 10
	PriorityCritical Priority = 20
)
