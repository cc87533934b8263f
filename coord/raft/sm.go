package raft

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent/internal/coordlog"
)

// eventLog is the replicated state machine of one shard: the committed
// event log, held as codec records in memory, rebuilt on restart from the
// latest snapshot and the Raft log after it. dragonboat calls Update,
// SaveSnapshot and RecoverFromSnapshot from one goroutine; Lookup may run
// concurrently with them, which the coordlog.Log allows.
type eventLog struct {
	shard int
	log   *coordlog.Log[[]byte]
}

var _ sm.IStateMachine = (*eventLog)(nil)

// Update appends a proposal's events and returns the index of the first;
// a malformed proposal is applied as nothing and answered with Value 0
// and the error in Data.
func (s *eventLog) Update(e sm.Entry) (sm.Result, error) {
	cmd := bytes.Clone(e.Cmd) // records alias it and live on in the log
	recs, err := decodeProposal(cmd, false)
	if err != nil {
		return sm.Result{Data: []byte(err.Error())}, nil
	}
	return sm.Result{Value: s.log.Append(recs...)}, nil
}

// readQuery asks Lookup for up to max records from index from.
type readQuery struct {
	from uint64
	max  int
}

type readResult struct {
	first uint64
	recs  [][]byte
}

// Lookup answers a readQuery.
func (s *eventLog) Lookup(q any) (any, error) {
	rq, ok := q.(readQuery)
	if !ok {
		return nil, fmt.Errorf("coord/raft: unknown query %T", q)
	}
	recs, first := s.log.Read(nil, rq.from, rq.max)
	return readResult{first: first, recs: recs}, nil
}

// SaveSnapshot writes the whole log.
func (s *eventLog) SaveSnapshot(w io.Writer, _ sm.ISnapshotFileCollection, _ <-chan struct{}) error {
	return writeSnapshot(w, s.log.All())
}

// RecoverFromSnapshot replaces the log with a snapshot's.
func (s *eventLog) RecoverFromSnapshot(r io.Reader, _ []sm.SnapshotFile, _ <-chan struct{}) error {
	recs, err := readSnapshot(r)
	if err != nil {
		return err
	}
	s.log.Reset(recs)
	return nil
}

// Close wakes the log's subscribers, which end with coord.ErrClosed.
func (s *eventLog) Close() error {
	s.log.Close()
	return nil
}

// replicas remembers the state machine dragonboat created for each shard
// of one node, so that the coordinator can read and follow the local copy.
type replicas struct {
	mu   sync.Mutex // guards logs
	logs map[int]*eventLog
}

func (r *replicas) factory(shard int) sm.CreateStateMachineFunc {
	return func(shardID, replicaID uint64) sm.IStateMachine {
		s := &eventLog{shard: shard, log: coordlog.New[[]byte]()}
		r.mu.Lock()
		r.logs[shard] = s
		r.mu.Unlock()
		return s
	}
}

func (r *replicas) get(shard int) *eventLog {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs[shard]
}
