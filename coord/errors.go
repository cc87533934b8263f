package coord

import (
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/coordlog"
)

// Errors returned by coordinators. Implementations wrap them, so check with
// errors.Is.
var (
	// ErrClosed is wrapped by every error a closed coordinator returns; it
	// wraps semevent.ErrClosed in turn.
	ErrClosed = coordlog.ErrClosed
	// ErrUnknownNode is returned by RemoveNode, and by operations naming a
	// node, when the node is not a member.
	ErrUnknownNode = errors.New("coord: unknown node")
	// ErrDuplicateNode is returned by AddNode when the id is already a
	// member, and by constructors given the same id twice.
	ErrDuplicateNode = errors.New("coord: duplicate node id")
	// ErrTooLarge is wrapped by *[SizeError] when an event does not fit in
	// one proposal.
	ErrTooLarge = errors.New("coord: event too large")
	// ErrShardNotFound is wrapped by *[ShardError] when a shard number is
	// out of range.
	ErrShardNotFound = errors.New("coord: shard not found")
	// ErrMembership is returned when a node's configured membership does
	// not match the cluster it joins (a node started with the wrong
	// initial members, or with members that do not agree on the shards).
	ErrMembership = errors.New("coord: membership mismatch")
	// ErrUnsupported is returned by the package helpers when a coordinator
	// lacks the optional ability asked for.
	ErrUnsupported = errors.New("coord: not supported by this coordinator")
	// ErrNoQuorum is returned when an operation cannot complete because
	// too few nodes are reachable before its context ends.
	ErrNoQuorum = errors.New("coord: no quorum")
)

// ShardError reports a shard number out of range.
type ShardError struct {
	Shard  int
	Shards int // how many shards there are
}

func (e *ShardError) Error() string {
	return fmt.Sprintf("coord: shard %d not found (%d shards)", e.Shard, e.Shards)
}

// Unwrap returns [ErrShardNotFound].
func (e *ShardError) Unwrap() error { return ErrShardNotFound }

// SizeError reports an event whose encoding exceeds the largest proposal.
type SizeError struct {
	Index int // the event's index in the Append call
	ID    semevent.ID
	Size  int
	Max   int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("coord: event %d (%s) is %d bytes encoded, at most %d fit in a proposal", e.Index, e.ID, e.Size, e.Max)
}

// Unwrap returns [ErrTooLarge].
func (e *SizeError) Unwrap() error { return ErrTooLarge }

// NodeError reports a membership operation that failed for one node.
type NodeError struct {
	Op   string // "add", "remove", "start"
	Node uint64
	Err  error
}

func (e *NodeError) Error() string {
	return fmt.Sprintf("coord: %s node %d: %v", e.Op, e.Node, e.Err)
}

// Unwrap returns the cause.
func (e *NodeError) Unwrap() error { return e.Err }

// AppendError reports an Append that failed part way: Committed holds, by
// index in the call, the position of every event known to be committed (a
// zero Position for the others), and Err is the first failure. An event not
// known to be committed may still commit later (a proposal whose context
// ended has an unknown fate), but never twice.
type AppendError struct {
	Committed []Position
	Err       error
}

func (e *AppendError) Error() string {
	n := 0
	for _, p := range e.Committed {
		if p.Index != 0 {
			n++
		}
	}
	return fmt.Sprintf("coord: append: %d of %d events committed: %v", n, len(e.Committed), e.Err)
}

// Unwrap returns the cause.
func (e *AppendError) Unwrap() error { return e.Err }
