package raft

import (
	"context"
	"errors"
	"fmt"
	"io"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/propagation/journal"
)

// snapPoint is the state PrepareSnapshot captures for SaveSnapshot: the
// applied index, the retained records' offsets, the exactly-once window.
type snapPoint struct {
	h snapHeader
	j *journal.Journal
}

// PrepareSnapshot captures the point a streamed snapshot describes. dragonboat
// takes it only to stream a snapshot to a replica that needs one (the
// periodic snapshots of an on-disk state machine hold no data): the
// snapshot holds the journal's retained records, not a copy of a log in
// memory. Right after a restart whose last entry a kill cut short, it
// aborts until that entry is applied again.
func (s *shardSM) PrepareSnapshot() (any, error) {
	if s.resume.index != 0 {
		return nil, sm.ErrSnapshotAborted
	}
	return &snapPoint{j: s.jw, h: snapHeader{
		deployment: s.cfg.id.deployment,
		shard:      s.cfg.id.shard,
		applied:    s.applied,
		first:      s.jw.FirstOffset(),
		end:        s.jw.NextOffset(),
		window:     s.win.Entries(),
	}}, nil
}

// SaveSnapshot streams the records PrepareSnapshot saw, read from the
// journal while Update goes on. A segment that retention removed in the
// meantime aborts the snapshot (dragonboat tries again).
func (s *shardSM) SaveSnapshot(ctx any, w io.Writer, stopc <-chan struct{}) error {
	p, ok := ctx.(*snapPoint)
	if !ok {
		return fmt.Errorf("coord/raft: unknown snapshot context %T", ctx)
	}
	sw, err := newSnapWriter(w, &p.h)
	if err != nil {
		return snapWriteErr(err)
	}
	r, err := p.j.NewReader(p.h.first)
	if err != nil {
		return sm.ErrSnapshotAborted
	}
	defer r.Close()
	var ev semevent.Event
	var rec []byte
	for off := p.h.first; off < p.h.end; off++ {
		if (off-p.h.first)%1024 == 0 {
			select {
			case <-stopc:
				return sm.ErrSnapshotStopped
			default:
			}
		}
		got, err := r.Next(&ev)
		if err != nil || got != off {
			if errors.Is(err, journal.ErrClosed) {
				return sm.ErrSnapshotStopped
			}
			s.cfg.log.Warn("snapshot aborted: the journal could not be read", "shard", s.cfg.id.shard, "offset", off, "err", err)
			return sm.ErrSnapshotAborted
		}
		rec = codec.Append(rec[:0], &ev)
		if err := sw.record(r.Meta(), rec); err != nil {
			return snapWriteErr(err)
		}
	}
	return snapWriteErr(sw.finish(w))
}

func snapWriteErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sm.ErrSnapshotStreaming) {
		return sm.ErrSnapshotStreaming
	}
	return err
}

// RecoverFromSnapshot brings the journal to the snapshot's point: it
// appends only the records this replica lacks (checking that the last
// one it has is the snapshot's), and when its journal ends before the
// snapshot's first record — it fell behind what the cluster retains — it
// moves the journal aside and starts a fresh one at that record: a fresh
// start, logged and reported by Health (FreshStart, First), never a
// silent hole.
func (s *shardSM) RecoverFromSnapshot(r io.Reader, stopc <-chan struct{}) error {
	sr, h, err := newSnapReader(r)
	if err != nil {
		return err
	}
	if h.deployment != s.cfg.id.deployment || h.shard != s.cfg.id.shard {
		return fmt.Errorf("coord/raft: shard %d refuses a snapshot of deployment %d shard %d: %w", s.cfg.id.shard, h.deployment, h.shard, ErrForeignDir)
	}
	local := s.jw.NextOffset()
	if local > h.end {
		return fmt.Errorf("coord/raft: shard %d holds records up to offset %d, past the snapshot's end %d (applied %d): diverged", s.cfg.id.shard, local, h.end, h.applied)
	}
	var lastLocal recMeta
	if local < h.first {
		if err := s.startFresh(h); err != nil {
			return err
		}
		local = h.first
	} else if local > h.first {
		if lastLocal, err = s.metaAt(local - 1); err != nil {
			return err
		}
	}
	var ev semevent.Event
	ctx := context.Background()
	for off := h.first; off < h.end; off++ {
		if (off-h.first)%1024 == 0 {
			select {
			case <-stopc:
				return sm.ErrSnapshotStopped
			default:
			}
		}
		meta, _, err := sr.record(&ev)
		if err != nil {
			return err
		}
		if off < local {
			if off == local-1 && parseMeta(meta[:]) != lastLocal {
				return fmt.Errorf("coord/raft: shard %d: the record at offset %d is %+v here and %+v in the snapshot: diverged", s.cfg.id.shard, off, lastLocal, parseMeta(meta[:]))
			}
			continue
		}
		if _, err := s.jw.AppendBatchMeta(ctx, []*semevent.Event{&ev}, meta[:]); err != nil {
			return fmt.Errorf("coord/raft: shard %d: recover from snapshot: %w", s.cfg.id.shard, err)
		}
	}
	if err := sr.finish(); err != nil {
		return err
	}
	if err := s.jw.Flush(ctx); err != nil {
		return err
	}
	s.win.Reset(h.window)
	s.applied, s.resume = h.applied, resumeState{}
	s.appliedIdx.Store(s.applied)
	s.recovered.Add(1)
	s.mu.Lock()
	s.wakeLocked()
	s.mu.Unlock()
	return s.Sync() // also ends a fresh start: STATE no longer names one
}

// startFresh replaces the journal with an empty one at h.first. STATE
// names the fresh start first, so that a kill part way finishes it at
// Open (and reports nothing applied, so the snapshot is applied again).
func (s *shardSM) startFresh(h *snapHeader) error {
	st := smState{journalNext: h.end, freshFirst: h.first, window: h.window}
	if err := writeFileDurably(s.fsys(), s.cfg.dir, stateName, st.encode()); err != nil {
		return err
	}
	if err := s.jw.Close(context.Background()); err != nil {
		return err
	}
	j, err := s.moveAsideAndCreate(h.first)
	if err != nil {
		return err
	}
	s.setJournal(j)
	s.mu.Lock()
	s.fresh = true
	s.mu.Unlock()
	return nil
}
