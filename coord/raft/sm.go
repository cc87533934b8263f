package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sm "github.com/lni/dragonboat/v4/statemachine"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/coordlog"
	"github.com/vexfs/semevent/internal/logx"
	"github.com/vexfs/semevent/propagation/journal"
)

// Every journal record of a shard carries 24 bytes of metadata:
//
//	raft index u64 | origin node u64 | position in its entry u32 | events in the entry u32
//
// (little-endian). Record index in coord = journal offset + 1.
const metaSize = 24

// recordOverhead bounds what the journal adds to an event's encoding:
// the record header, the meta, the GCM tag.
const recordOverhead = 16 + metaSize + 16

func putMeta(b *[metaSize]byte, index, origin uint64, pos, count uint32) {
	binary.LittleEndian.PutUint64(b[0:], index)
	binary.LittleEndian.PutUint64(b[8:], origin)
	binary.LittleEndian.PutUint32(b[16:], pos)
	binary.LittleEndian.PutUint32(b[20:], count)
}

// recMeta is a record's metadata, decoded.
type recMeta struct {
	index, origin uint64
	pos, count    uint32
}

func parseMeta(b []byte) recMeta {
	if len(b) < metaSize {
		return recMeta{}
	}
	return recMeta{
		index:  binary.LittleEndian.Uint64(b[0:]),
		origin: binary.LittleEndian.Uint64(b[8:]),
		pos:    binary.LittleEndian.Uint32(b[16:]),
		count:  binary.LittleEndian.Uint32(b[20:]),
	}
}

// smConfig is what a shard's state machine needs from the Options.
type smConfig struct {
	dir    string // <Dir>/shards/<n>
	id     identity
	window int
	jopts  journal.Options
	// snapBytes and snapKick: past snapBytes applied bytes, Update sends
	// the shard number on snapKick (see Coordinator.snapshotter).
	snapBytes int64
	snapKick  chan<- int
	log       *slog.Logger
}

// shardSM is the replicated state machine of one shard, a dragonboat
// IOnDiskStateMachine: every applied entry's events are appended to the
// shard's journal, each record carrying its Raft index, so the applied
// index is persisted atomically with the records. dragonboat calls
// Update, Sync, PrepareSnapshot, RecoverFromSnapshot and Close one at a
// time; Lookup and SaveSnapshot may run concurrently with them. Readers
// (Read, Subscribe) take the journal under mu.
type shardSM struct {
	cfg smConfig

	// Owned by the calls dragonboat serializes.
	win     *coordlog.Window
	applied uint64      // the last Raft index applied
	resume  resumeState // an entry a kill cut short, being re-applied
	evs     []*semevent.Event
	jw      *journal.Journal // the journal being written (== j)
	// afterRecord, set by tests, runs after each record an entry appends
	// (k: its position in the entry).
	afterRecord func(k int)

	appliedIdx atomic.Uint64 // applied, for Lookup
	recovered  atomic.Uint64 // snapshots recovered from (tests)
	sinceSnap  atomic.Int64  // proposal bytes applied since the last size-triggered snapshot
	snapAsked  atomic.Bool   // a size-triggered snapshot was asked for and has not ended

	mu     sync.Mutex // guards j, gen, notify, closed, fresh
	j      *journal.Journal
	gen    uint64        // bumped when j is replaced (fresh start)
	notify chan struct{} // closed when records are applied or j changes
	closed bool
	fresh  bool // the journal restarted at a later offset (see Health)
}

// resumeState describes the last entry of the journal when a kill cut it
// short: the records at positions below done are there already.
type resumeState struct {
	index uint64
	done  uint32
}

var _ sm.IOnDiskStateMachine = (*shardSM)(nil)

func newShardSM(cfg smConfig) *shardSM {
	return &shardSM{cfg: cfg, notify: make(chan struct{}), win: coordlog.NewWindow(cfg.window)}
}

func (s *shardSM) journalDir() string { return filepath.Join(s.cfg.dir, journalName) }

func (s *shardSM) fsys() journal.FS { return s.cfg.jopts.FS }

// Open checks the directory's identity, opens the journal and recovers the
// applied index from its last record: a complete entry gives its index; an
// entry cut short by a kill gives the index before it, and the re-applied
// entry skips the records already there. The STATE checkpoint raises the
// index over entries that appended nothing (every event already
// committed), and holds the exactly-once window, which the records after
// it complete.
func (s *shardSM) Open(stopc <-chan struct{}) (uint64, error) {
	if _, err := checkIdentity(s.fsys(), s.cfg.dir, s.cfg.id); err != nil {
		return 0, err
	}
	st, err := s.loadState()
	if err != nil {
		return 0, err
	}
	jo := s.cfg.jopts
	if st != nil && st.freshFirst != 0 {
		jo.FirstOffset = st.freshFirst
	}
	j, err := journal.Open(s.journalDir(), &jo)
	if err != nil {
		return 0, fmt.Errorf("coord/raft: shard %d: %w", s.cfg.id.shard, err)
	}
	if st != nil && st.freshFirst != 0 && j.FirstOffset() != st.freshFirst {
		// Killed during a fresh start, before the old journal was moved.
		if err := j.Close(context.Background()); err != nil {
			return 0, err
		}
		if j, err = s.moveAsideAndCreate(st.freshFirst); err != nil {
			return 0, err
		}
	}
	s.setJournal(j)
	s.fresh = s.hasBehind()
	if st != nil && st.freshFirst != 0 {
		// The snapshot that started it is applied again (dragonboat keeps
		// it): report nothing applied so that it is.
		s.win.Reset(st.window)
		return 0, nil
	}
	first, next := j.FirstOffset(), j.NextOffset()
	var tail uint64
	if next > first {
		m, err := s.metaAt(next - 1)
		if err != nil {
			return 0, err
		}
		if m.index == 0 {
			return 0, fmt.Errorf("coord/raft: shard %d: the journal's last record (offset %d) has no Raft index: %w", s.cfg.id.shard, next-1, ErrForeignDir)
		}
		tail = m.index
		if m.pos+1 < m.count {
			tail = m.index - 1
			s.resume = resumeState{index: m.index, done: m.pos + 1}
		}
	}
	s.applied = tail
	from := first
	switch {
	case st != nil:
		if s.resume.index != 0 && st.applied >= s.resume.index {
			return 0, fmt.Errorf("coord/raft: shard %d: %s says entry %d was applied but the journal ends inside it", s.cfg.id.shard, stateName, s.resume.index)
		}
		s.applied = max(s.applied, st.applied)
		s.win.Reset(st.window)
		from = st.journalNext
		if from < first {
			return 0, fmt.Errorf("coord/raft: shard %d: the exactly-once window needs the records from offset %d, retention kept them from %d on: raise RetentionBytes/RetentionAge", s.cfg.id.shard, from, first)
		}
	case next-first > uint64(s.cfg.window):
		from = next - uint64(s.cfg.window)
	case first > 0:
		s.cfg.log.Warn("exactly-once window rebuilt from fewer records than DedupWindow: no checkpoint", "shard", s.cfg.id.shard, "first", first, "next", next)
	}
	if from < next {
		if err := s.replayWindow(from); err != nil {
			return 0, err
		}
	}
	s.appliedIdx.Store(s.applied)
	return s.applied, nil
}

// metaAt reads the metadata of the record at off.
func (s *shardSM) metaAt(off uint64) (recMeta, error) {
	r, err := s.jw.NewReader(off)
	if err != nil {
		return recMeta{}, err
	}
	defer r.Close()
	var ev semevent.Event
	if _, err := r.Next(&ev); err != nil {
		return recMeta{}, fmt.Errorf("coord/raft: shard %d: read offset %d: %w", s.cfg.id.shard, off, err)
	}
	return parseMeta(r.Meta()), nil
}

// replayWindow adds the IDs of the records from offset from on to the
// window.
func (s *shardSM) replayWindow(from uint64) error {
	r, err := s.jw.NewReader(from)
	if err != nil {
		return err
	}
	defer r.Close()
	var ev semevent.Event
	for {
		off, err := r.Next(&ev)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("coord/raft: shard %d: rebuild the exactly-once window: %w", s.cfg.id.shard, err)
		}
		s.win.Add(ev.ID, off+1)
	}
}

func (s *shardSM) loadState() (*smState, error) {
	b, err := readFile(s.fsys(), filepath.Join(s.cfg.dir, stateName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("coord/raft: %w", err)
	}
	st, err := decodeState(b)
	if err != nil {
		return nil, fmt.Errorf("coord/raft: %s: %w", filepath.Join(s.cfg.dir, stateName), err)
	}
	return st, nil
}

func (s *shardSM) setJournal(j *journal.Journal) {
	s.mu.Lock()
	s.j, s.jw = j, j
	s.gen++
	s.wakeLocked()
	s.mu.Unlock()
}

func (s *shardSM) wakeLocked() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// view returns what a reader needs: the journal, its generation, a
// channel closed at the next change, and whether the shard is closed.
func (s *shardSM) view() (*journal.Journal, uint64, <-chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.j, s.gen, s.notify, s.closed
}

// Update appends each entry's events to the journal and returns, per
// entry, where they are (see entryResult). A malformed entry is applied as
// nothing. The records are written out (readable, not fsynced) before
// Update returns; Sync fsyncs them.
func (s *shardSM) Update(ents []sm.Entry) ([]sm.Entry, error) {
	var n int64
	for i := range ents {
		res, err := s.apply(ents[i].Index, ents[i].Cmd)
		if err != nil {
			return nil, err
		}
		ents[i].Result = res
		n += int64(len(ents[i].Cmd))
	}
	if s.cfg.snapKick != nil && s.sinceSnap.Add(n) >= s.cfg.snapBytes && s.snapAsked.CompareAndSwap(false, true) {
		select {
		case s.cfg.snapKick <- int(s.cfg.id.shard):
		default:
			s.snapAsked.Store(false)
		}
	}
	if err := s.jw.Flush(context.Background()); err != nil {
		return nil, fmt.Errorf("coord/raft: shard %d: %w", s.cfg.id.shard, err)
	}
	s.appliedIdx.Store(s.applied)
	s.mu.Lock()
	s.wakeLocked()
	s.mu.Unlock()
	return ents, nil
}

// events returns n reusable events.
func (s *shardSM) events(n int) []*semevent.Event {
	for len(s.evs) < n {
		s.evs = append(s.evs, new(semevent.Event))
	}
	return s.evs[:n]
}

// apply applies one entry. Only a journal that fails to write is an
// error (it stops the node); bad input is a result.
func (s *shardSM) apply(index uint64, cmd []byte) (sm.Result, error) {
	if index <= s.applied {
		return sm.Result{Value: s.jw.NextOffset() + 1}, nil // applied before a restart
	}
	p, err := decodeProposal(cmd, false)
	recs := p.recs
	if err == nil {
		err = s.decodeEvents(recs)
	}
	if err != nil {
		s.applied = index
		s.resume = resumeState{}
		return errResult(err), nil
	}
	evs := s.evs[:len(recs)]
	skip := uint32(0)
	if s.resume.index == index {
		skip = s.resume.done
	}
	s.resume = resumeState{}
	value := s.jw.NextOffset() + 1
	var dups []byte
	ndup := 0
	var meta [metaSize]byte
	for k, ev := range evs {
		if uint32(k) < skip {
			// Written before the kill: its ID is in the window.
			idx, _ := s.win.Lookup(ev.ID)
			dups = appendDup(dups, k, idx, false)
			ndup++
			continue
		}
		if idx, tag, ok := s.win.LookupTag(ev.ID); ok {
			// Committed before: by an earlier attempt of this very
			// proposal (a retry after a timeout: this Append's own, unless
			// the proposal holds the ID twice), or by another append.
			own := p.id != 0 && tag == p.id && idx < value && !slices.ContainsFunc(evs[:k], func(e *semevent.Event) bool { return e.ID == ev.ID })
			dups = appendDup(dups, k, idx, !own)
			ndup++
			continue
		}
		putMeta(&meta, index, p.origin, uint32(k), uint32(len(evs)))
		off, err := s.jw.AppendBatchMeta(context.Background(), evs[k:k+1], meta[:])
		if err != nil {
			return sm.Result{}, fmt.Errorf("coord/raft: shard %d: apply entry %d: %w", s.cfg.id.shard, index, err)
		}
		s.win.AddTagged(ev.ID, off+1, p.id)
		if s.afterRecord != nil {
			s.afterRecord(k)
		}
	}
	s.applied = index
	return sm.Result{Value: value, Data: dupResult(dups, ndup)}, nil
}

// decodeEvents decodes recs into s.evs and checks them: a proposal whose
// records do not decode as valid, stamped events is malformed as a whole
// (a journal would stamp a missing ID or time differently on each node).
func (s *shardSM) decodeEvents(recs [][]byte) error {
	evs := s.events(len(recs))
	for k, rec := range recs {
		ev := evs[k]
		if err := codec.Decode(rec, ev); err != nil {
			return &EncodingError{What: "proposal", Msg: fmt.Sprintf("record %d: %v", k, err)}
		}
		if err := ev.Validate(); err != nil {
			return &EncodingError{What: "proposal", Msg: fmt.Sprintf("record %d: %v", k, err)}
		}
		if ev.ID.IsZero() || ev.Time == 0 {
			return &EncodingError{What: "proposal", Msg: fmt.Sprintf("record %d: event without ID or Time", k)}
		}
		// The journal refuses records over MaxRecordSize (framing, meta
		// and, when encrypted, the GCM tag included): refuse the proposal
		// rather than fail the node.
		if len(rec)+recordOverhead > s.cfg.jopts.MaxRecordSize {
			return &EncodingError{What: "proposal", Msg: fmt.Sprintf("record %d: %d bytes, the journal takes at most %d", k, len(rec), s.cfg.jopts.MaxRecordSize-recordOverhead)}
		}
	}
	return nil
}

// Lookup returns the applied index: a linearizable Read asks it through a
// ReadIndex, then reads the journal.
func (s *shardSM) Lookup(any) (any, error) { return s.appliedIdx.Load(), nil }

// Sync fsyncs the journal, then replaces the STATE checkpoint.
func (s *shardSM) Sync() error {
	if err := s.jw.Sync(context.Background()); err != nil {
		return fmt.Errorf("coord/raft: shard %d: %w", s.cfg.id.shard, err)
	}
	return s.saveState(0)
}

func (s *shardSM) saveState(freshFirst uint64) error {
	st := smState{applied: s.applied, journalNext: s.jw.NextOffset(), freshFirst: freshFirst, window: s.win.Entries()}
	return writeFileDurably(s.fsys(), s.cfg.dir, stateName, st.encode())
}

// Close closes the journal (fsyncing it) and wakes the readers, which
// end with coord.ErrClosed.
func (s *shardSM) Close() error {
	s.mu.Lock()
	s.closed = true
	j := s.j
	s.wakeLocked()
	s.mu.Unlock()
	if j == nil {
		return nil
	}
	return j.Close(context.Background())
}

// behindPrefix names a journal moved aside by a fresh start.
const behindPrefix = journalName + ".behind-"

func (s *shardSM) hasBehind() bool {
	es, err := s.fsys().ReadDir(s.cfg.dir)
	if err != nil {
		return false
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), behindPrefix) {
			return true
		}
	}
	return false
}

// moveAsideAndCreate renames the journal directory to journal.behind-<n>
// and creates an empty journal whose first record gets offset first.
func (s *shardSM) moveAsideAndCreate(first uint64) (*journal.Journal, error) {
	dir := s.journalDir()
	if _, err := s.fsys().ReadDir(dir); err == nil {
		aside := ""
		for n := 1; ; n++ {
			aside = fmt.Sprintf("%s%d", filepath.Join(s.cfg.dir, behindPrefix), n)
			if _, err := s.fsys().ReadDir(aside); err != nil {
				break
			}
		}
		if err := s.fsys().Rename(dir, aside); err != nil {
			return nil, fmt.Errorf("coord/raft: move the journal aside: %w", err)
		}
		if err := s.fsys().SyncDir(s.cfg.dir); err != nil {
			return nil, fmt.Errorf("coord/raft: %w", err)
		}
		s.cfg.log.Warn("fresh start: this replica fell behind what the cluster retains; its journal was moved aside and restarts at the leader's first retained record",
			"shard", s.cfg.id.shard, "moved_to", aside, "first_index", first+1)
	}
	jo := s.cfg.jopts
	jo.FirstOffset = first
	j, err := journal.Open(dir, &jo)
	if err != nil {
		return nil, fmt.Errorf("coord/raft: shard %d: %w", s.cfg.id.shard, err)
	}
	if j.FirstOffset() != first || j.NextOffset() != first {
		j.Close(context.Background())
		return nil, fmt.Errorf("coord/raft: shard %d: the new journal starts at %d, want %d", s.cfg.id.shard, j.FirstOffset(), first)
	}
	return j, nil
}

// replicas remembers the state machine dragonboat created for each shard
// of one node, so that the coordinator can read and follow the local copy.
type replicas struct {
	mu   sync.Mutex // guards sms
	sms  map[int]*shardSM
	cfgs []smConfig
}

func (r *replicas) factory(shard int) sm.CreateOnDiskStateMachineFunc {
	return func(shardID, replicaID uint64) sm.IOnDiskStateMachine {
		s := newShardSM(r.cfgs[shard])
		r.mu.Lock()
		r.sms[shard] = s
		r.mu.Unlock()
		return s
	}
}

// get returns shard's state machine once it is open (nil before).
func (r *replicas) get(shard int) *shardSM {
	r.mu.Lock()
	s := r.sms[shard]
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	if j, _, _, _ := s.view(); j == nil {
		return nil
	}
	return s
}

// shardConfigs checks (or creates) the identity of every shard directory
// of o.Dir before anything starts, so that a directory of another
// cluster, shard or node, or a node restarted with another shard count,
// fails New with a *DirError and is never mixed in, and returns the
// registry the state machine factories fill.
func shardConfigs(o Options, snapKick chan<- int) (*replicas, error) {
	fsys := o.journalFS
	if fsys == nil {
		fsys = journal.OSFS()
	}
	log := logx.For(o.Logger, "coord/raft")
	r := &replicas{sms: make(map[int]*shardSM)}
	for i := range o.Shards {
		cfg := smConfig{
			dir:       filepath.Join(o.Dir, "shards", strconv.Itoa(i)),
			id:        identity{deployment: o.DeploymentID, shard: uint32(i), shards: uint32(o.Shards), node: o.Node},
			window:    max(o.DedupWindow, 0),
			snapBytes: o.SnapshotBytes,
			snapKick:  snapKick,
			log:       log,
			jopts: journal.Options{
				FS:             fsys,
				Logger:         o.Logger,
				Node:           uint32(o.Node),
				Sync:           journal.SyncNever,
				FlushInterval:  time.Second, // Update writes records out itself
				SegmentSize:    o.SegmentSize,
				RetentionBytes: o.RetentionBytes,
				RetentionAge:   o.RetentionAge,
				Encryption:     o.Encryption,
				MetaSize:       metaSize,
				// Every event Append accepts fits in a record.
				MaxRecordSize: max(journal.DefaultMaxRecordSize, o.MaxEventSize+recordOverhead),
			},
		}
		if _, err := checkIdentity(fsys, cfg.dir, cfg.id); err != nil {
			return nil, err
		}
		r.cfgs = append(r.cfgs, cfg)
	}
	// A directory for a shard beyond Shards means the node ran with more.
	if _, err := fsys.ReadDir(filepath.Join(o.Dir, "shards", strconv.Itoa(o.Shards))); err == nil {
		dir := filepath.Join(o.Dir, "shards", strconv.Itoa(o.Shards))
		got := uint64(0)
		if b, err := readFile(fsys, filepath.Join(dir, identityName)); err == nil {
			if id, err := decodeIdentity(b); err == nil {
				got = uint64(id.shards)
			}
		}
		return nil, &DirError{Dir: dir, Field: "shards", Want: uint64(o.Shards), Got: got}
	}
	return r, nil
}
