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
	// ErrCompacted is returned by Read and Subscribe for an index this
	// node no longer holds (retention removed it, or its replica started
	// fresh after it); see [ShardHealth].First.
	ErrCompacted = errors.New("coord: index no longer retained")
	// ErrTooManyConsumers is returned by CommitOffset when a shard
	// already holds offsets for as many consumer names as its cap.
	ErrTooManyConsumers = errors.New("coord: too many consumer names")
	// ErrNoQuorum is returned when an operation cannot complete because
	// too few nodes are reachable before its context ends.
	ErrNoQuorum = errors.New("coord: no quorum")
	// ErrOutcomeUnknown is wrapped by the *[AppendError] of an Append
	// whose events were handed to the cluster but whose fate this node
	// never learned: its ctx ended, the proposal timed out, or the node
	// closed while the proposal was in flight. The events may or may not
	// have committed. Retry with the same events (the same IDs): a
	// coordinator that remembers committed IDs commits them once.
	ErrOutcomeUnknown = errors.New("coord: append outcome unknown")
	// ErrCrossShard is wrapped by *[CrossShardError] when an atomic
	// append's events map to more than one shard.
	ErrCrossShard = errors.New("coord: events span shards")
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

// SizeError reports an event whose encoding exceeds the largest proposal,
// or (Events > 1) the events of one Append that fall in one shard and so
// must commit in one proposal, but together exceed it.
type SizeError struct {
	Index  int // the (first) event's index in the Append call
	ID     semevent.ID
	Size   int
	Max    int
	Events int // how many events Size counts: 0 or 1 for one event
}

func (e *SizeError) Error() string {
	if e.Events > 1 {
		return fmt.Sprintf("coord: %d events from event %d (%s) fall in one shard, so they commit in one proposal: %d bytes encoded, at most %d fit",
			e.Events, e.Index, e.ID, e.Size, e.Max)
	}
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
// zero Position for the others), and Err is the failure. When Err wraps
// [ErrOutcomeUnknown], the events not known to be committed may still
// commit (once), or may have committed already: retry them with the same
// IDs. Otherwise they did not commit and never will.
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
	if errors.Is(e.Err, ErrOutcomeUnknown) {
		switch {
		case len(e.Committed) == 1:
			return fmt.Sprintf("coord: append: outcome unknown: the event may or may not have committed; retry with the same IDs: %v", e.Err)
		case n == 0:
			return fmt.Sprintf("coord: append: outcome unknown: the %d events may or may not have committed; retry with the same IDs: %v", len(e.Committed), e.Err)
		}
		return fmt.Sprintf("coord: append: %d of %d events committed, the other %d may or may not have: retry them with the same IDs: %v", n, len(e.Committed), len(e.Committed)-n, e.Err)
	}
	return fmt.Sprintf("coord: append: %d of %d events committed, the others not: %v", n, len(e.Committed), e.Err)
}

// Unwrap returns the cause.
func (e *AppendError) Unwrap() error { return e.Err }

// CrossShardError reports an atomic append whose events map to more than
// one shard: event First goes to shard FirstShard, event Other to
// OtherShard. Nothing was proposed.
type CrossShardError struct {
	First, Other           int // indexes in the call
	FirstShard, OtherShard int
}

func (e *CrossShardError) Error() string {
	return fmt.Sprintf("coord: atomic append: event %d maps to shard %d and event %d to shard %d; an atomic batch must fall in one shard (give its events one key)",
		e.First, e.FirstShard, e.Other, e.OtherShard)
}

// Unwrap returns [ErrCrossShard].
func (e *CrossShardError) Unwrap() error { return ErrCrossShard }
