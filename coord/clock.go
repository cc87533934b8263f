package coord

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Order is how two clock readings relate.
type Order int8

const (
	Before     Order = -1 // happened before
	Equal      Order = 0
	After      Order = 1 // happened after
	Concurrent Order = 2 // neither happened before the other
)

func (o Order) String() string {
	switch o {
	case Before:
		return "before"
	case Equal:
		return "equal"
	case After:
		return "after"
	case Concurrent:
		return "concurrent"
	}
	return fmt.Sprintf("Order(%d)", int8(o))
}

// VectorClock counts, per node, the events that node has seen of itself
// and, through merges, of others. A nil VectorClock is the zero clock for
// reading; Tick and Merge need a non-nil one. It is a value map: copy with
// Clone before sharing.
type VectorClock map[uint64]uint64

// Tick records one local event on node and returns the clock.
func (v VectorClock) Tick(node uint64) VectorClock {
	v[node]++
	return v
}

// Merge sets v to the element-wise maximum of v and o (receiving a message
// stamped o) and returns v.
func (v VectorClock) Merge(o VectorClock) VectorClock {
	for n, c := range o {
		if c > v[n] {
			v[n] = c
		}
	}
	return v
}

// Clone returns a copy of v.
func (v VectorClock) Clone() VectorClock {
	if v == nil {
		return VectorClock{}
	}
	return maps.Clone(v)
}

// Compare reports whether v happened before, after, at the same time as,
// or concurrently with o.
func (v VectorClock) Compare(o VectorClock) Order {
	less, more := false, false
	for n, c := range v {
		switch oc := o[n]; {
		case c < oc:
			less = true
		case c > oc:
			more = true
		}
	}
	for n, oc := range o {
		if _, ok := v[n]; !ok && oc > 0 {
			less = true
		}
	}
	switch {
	case less && more:
		return Concurrent
	case less:
		return Before
	case more:
		return After
	}
	return Equal
}

// HappensBefore reports whether v happened before o.
func (v VectorClock) HappensBefore(o VectorClock) bool { return v.Compare(o) == Before }

// ConcurrentWith reports whether neither of v and o happened before the
// other.
func (v VectorClock) ConcurrentWith(o VectorClock) bool { return v.Compare(o) == Concurrent }

// String lists the non-zero counters by node.
func (v VectorClock) String() string {
	nodes := slices.Sorted(maps.Keys(v))
	s := "{"
	for i, n := range nodes {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%d:%d", n, v[n])
	}
	return s + "}"
}

// Timestamp is a hybrid logical clock reading: wall time in Unix
// nanoseconds, a logical counter that orders readings within one wall
// tick, and the node that made it, which breaks the remaining ties so that
// timestamps from different nodes are totally ordered.
type Timestamp struct {
	Wall    int64
	Logical uint32
	Node    uint64
}

// Compare returns -1, 0 or +1 as t sorts before, equal to or after o.
func (t Timestamp) Compare(o Timestamp) int {
	switch {
	case t.Wall != o.Wall:
		return cmpInt(t.Wall < o.Wall)
	case t.Logical != o.Logical:
		return cmpInt(t.Logical < o.Logical)
	case t.Node != o.Node:
		return cmpInt(t.Node < o.Node)
	}
	return 0
}

func cmpInt(less bool) int {
	if less {
		return -1
	}
	return 1
}

// IsZero reports whether t is the zero timestamp.
func (t Timestamp) IsZero() bool { return t == Timestamp{} }

func (t Timestamp) String() string {
	return fmt.Sprintf("%d.%d@%d", t.Wall, t.Logical, t.Node)
}

// HLC is a hybrid logical clock (Kulkarni et al.): timestamps that stay
// close to wall time, never go backwards on a node even when its wall clock
// does, and respect causality across nodes: a timestamp taken after
// receiving a message is greater than the message's. Safe for concurrent
// use.
type HLC struct {
	node uint64
	now  func() int64

	mu   sync.Mutex // guards last
	last Timestamp
}

// NewHLC returns a clock for node reading wall time from now (Unix
// nanoseconds); nil means time.Now.
func NewHLC(node uint64, now func() int64) *HLC {
	if now == nil {
		now = func() int64 { return time.Now().UnixNano() }
	}
	return &HLC{node: node, now: now}
}

// Now returns a timestamp greater than every one this clock returned or
// received before.
func (c *HLC) Now() Timestamp {
	pt := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if pt > c.last.Wall {
		c.last = Timestamp{Wall: pt, Node: c.node}
	} else {
		c.last.Logical++
		c.last.Node = c.node
	}
	return c.last
}

// Update merges a timestamp received from another node and returns a local
// timestamp greater than both it and every earlier one.
func (c *HLC) Update(remote Timestamp) Timestamp {
	pt := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	wall := max(pt, c.last.Wall, remote.Wall)
	var logical uint32
	switch {
	case wall == c.last.Wall && wall == remote.Wall:
		logical = max(c.last.Logical, remote.Logical) + 1
	case wall == c.last.Wall:
		logical = c.last.Logical + 1
	case wall == remote.Wall:
		logical = remote.Logical + 1
	}
	c.last = Timestamp{Wall: wall, Logical: logical, Node: c.node}
	return c.last
}
