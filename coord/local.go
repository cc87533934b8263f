package coord

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/coordlog"
)

// Local is the single-node [Coordinator]: every shard's log lives in memory
// and an Append is committed when it returns. It is the default for
// programs that run on one machine, and the fake for users' tests of code
// written against Coordinator: it keeps everything appended, accepts
// membership changes (recording them), and fails on demand ([Local.FailNext]).
// It is safe for concurrent use.
type Local struct {
	opts    Options
	ids     *semevent.IDGenerator
	logs    []*coordlog.Log[*semevent.Event]
	shards  []localShard
	closed  atomic.Bool
	failing atomic.Int32 // len(failNext), read without the lock

	mu       sync.Mutex // guards members, failNext, subs
	members  []Member
	failNext []error
	subs     map[*localSub]struct{}
}

// localShard is one shard's exactly-once window and consumer offsets.
type localShard struct {
	mu      sync.Mutex // guards win and appends to the shard's log, offsets
	win     *coordlog.Window
	offsets map[string]uint64
}

var (
	_ Coordinator    = (*Local)(nil)
	_ Membership     = (*Local)(nil)
	_ AtomicAppender = (*Local)(nil)
	_ Offsets        = (*Local)(nil)
)

// NewLocal returns a running Local. A nil *Options means defaults.
func NewLocal(opts *Options) (*Local, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	l := &Local{
		opts:    o,
		ids:     semevent.NewIDGenerator(uint32(o.Node)),
		logs:    make([]*coordlog.Log[*semevent.Event], o.Shards),
		members: []Member{{ID: o.Node}},
		subs:    make(map[*localSub]struct{}),
	}
	l.shards = make([]localShard, o.Shards)
	for i := range l.logs {
		l.logs[i] = coordlog.New[*semevent.Event]()
		l.shards[i] = localShard{win: coordlog.NewWindow(o.DedupWindow), offsets: make(map[string]uint64)}
	}
	return l, nil
}

// CheckEvent validates ev (the i'th of an Append call) and checks that its
// encoding fits in max bytes, returning a *[SizeError] when it does not.
func CheckEvent(i int, ev *semevent.Event, max int) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	if codec.Size(ev) > max {
		if n := len(codec.Append(nil, ev)); n > max {
			return &SizeError{Index: i, ID: ev.ID, Size: n, Max: max}
		}
	}
	return nil
}

// Append commits evs; see [Coordinator.Append].
func (l *Local) Append(ctx context.Context, evs ...*semevent.Event) ([]Position, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, ev := range evs {
		if err := CheckEvent(i, ev, l.opts.MaxEventSize); err != nil {
			return nil, err
		}
	}
	if l.failing.Load() > 0 {
		l.mu.Lock()
		if len(l.failNext) > 0 {
			err := l.failNext[0]
			l.failNext = l.failNext[1:]
			l.failing.Add(-1)
			l.mu.Unlock()
			return nil, err
		}
		l.mu.Unlock()
	}
	for _, ev := range evs {
		l.ids.Stamp(ev)
	}
	pos := make([]Position, len(evs))
	// One shard's new events go into its log in one call: contiguous and
	// in order, as one proposal would put them. An event whose ID the
	// shard's window holds (committed before, or earlier in this call) is
	// reported where it was committed.
	byShard := make(map[int][]int)
	var order []int
	for i, ev := range evs {
		s := 0
		if len(l.logs) > 1 {
			s = ShardOf(l.opts.Key(ev), len(l.logs))
		}
		pos[i].Shard = s
		if byShard[s] == nil {
			order = append(order, s)
		}
		byShard[s] = append(byShard[s], i)
	}
	for _, s := range order {
		sh := &l.shards[s]
		sh.mu.Lock()
		var fresh []*semevent.Event
		src := make(map[int]int)          // event i -> its index in fresh
		seen := make(map[semevent.ID]int) // this call's new IDs -> index in fresh
		for _, i := range byShard[s] {
			id := evs[i].ID
			if idx, ok := sh.win.Lookup(id); ok {
				pos[i].Index, pos[i].AlreadyCommitted = idx, true
			} else if k, ok := seen[id]; ok {
				src[i], pos[i].AlreadyCommitted = k, true
			} else {
				seen[id], src[i] = len(fresh), len(fresh)
				fresh = append(fresh, evs[i])
			}
		}
		if len(fresh) > 0 {
			first := l.logs[s].Append(fresh...)
			for k, ev := range fresh {
				sh.win.Add(ev.ID, first+uint64(k))
			}
			for i, k := range src {
				pos[i].Index = first + uint64(k)
			}
		}
		sh.mu.Unlock()
	}
	return pos, nil
}

// AppendAtomic commits evs all or none; see [AtomicAppender]. It fails
// with a *[CrossShardError] when they map to different shards.
func (l *Local) AppendAtomic(ctx context.Context, evs ...*semevent.Event) ([]Position, error) {
	if _, err := OneShard(l.opts.Key, len(l.logs), evs); err != nil {
		return nil, err
	}
	return l.Append(ctx, evs...)
}

// CommitOffset records consumer name's next index on shard, in memory;
// see [Offsets].
func (l *Local) CommitOffset(shard int, name string, next uint64) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if _, err := l.log(shard); err != nil {
		return err
	}
	if name == "" {
		return fmt.Errorf("coord: commit offset on shard %d: empty consumer name", shard)
	}
	sh := &l.shards[shard]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.offsets[name]; !ok && len(sh.offsets) >= l.opts.MaxConsumers {
		return fmt.Errorf("coord: commit offset of %q on shard %d: %w (MaxConsumers %d)", name, shard, ErrTooManyConsumers, l.opts.MaxConsumers)
	}
	sh.offsets[name] = next
	return nil
}

// CommittedOffset returns consumer name's committed next index on shard;
// see [Offsets].
func (l *Local) CommittedOffset(shard int, name string) (uint64, bool, error) {
	if l.closed.Load() {
		return 0, false, ErrClosed
	}
	if _, err := l.log(shard); err != nil {
		return 0, false, err
	}
	sh := &l.shards[shard]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	next, ok := sh.offsets[name]
	return next, ok, nil
}

// FailNext makes the next Append return err without committing anything;
// calls queue up. For tests of code that must handle a failed append.
func (l *Local) FailNext(err error) {
	l.mu.Lock()
	l.failNext = append(l.failNext, err)
	l.failing.Add(1)
	l.mu.Unlock()
}

func (l *Local) log(shard int) (*coordlog.Log[*semevent.Event], error) {
	if shard < 0 || shard >= len(l.logs) {
		return nil, &ShardError{Shard: shard, Shards: len(l.logs)}
	}
	return l.logs[shard], nil
}

// Read returns committed records; see [Coordinator.Read].
func (l *Local) Read(ctx context.Context, shard int, from uint64, max int) ([]Record, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	lg, err := l.log(shard)
	if err != nil {
		return nil, err
	}
	evs, first := lg.Read(nil, from, max)
	recs := make([]Record, len(evs))
	for i, ev := range evs {
		recs[i] = Record{Position: Position{Shard: shard, Index: first + uint64(i)}, Event: ev, Origin: l.opts.Node}
	}
	return recs, nil
}

// Subscribe follows a shard's log; see [Coordinator.Subscribe].
func (l *Local) Subscribe(shard int, from uint64, h Handler) (Subscription, error) {
	if h == nil {
		return nil, semevent.ErrNilHandler
	}
	if l.closed.Load() {
		return nil, ErrClosed
	}
	lg, err := l.log(shard)
	if err != nil {
		return nil, err
	}
	s := &localSub{coordlog.Subscribe(lg, from, func(ctx context.Context, index uint64, ev *semevent.Event) error {
		return h.HandleRecord(ctx, Record{Position: Position{Shard: shard, Index: index}, Event: ev, Origin: l.opts.Node})
	})}
	l.mu.Lock()
	l.subs[s] = struct{}{}
	l.mu.Unlock()
	go func() {
		<-s.Done()
		l.mu.Lock()
		delete(l.subs, s)
		l.mu.Unlock()
	}()
	return s, nil
}

type localSub struct{ *coordlog.Sub }

// Health reports one node that leads every shard.
func (l *Local) Health(ctx context.Context) Health {
	l.mu.Lock()
	n := len(l.members)
	l.mu.Unlock()
	h := Health{Node: l.opts.Node, Healthy: !l.closed.Load()}
	for i, lg := range l.logs {
		h.Shards = append(h.Shards, ShardHealth{Shard: i, Leader: l.opts.Node, Term: 1, Applied: lg.Len(), Members: n, First: 1})
	}
	return h
}

// Members lists the recorded members, this node first.
func (l *Local) Members(ctx context.Context) ([]Member, error) {
	if l.closed.Load() {
		return nil, ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.members), nil
}

// AddNode records a member; Local replicates nothing to it.
func (l *Local) AddNode(ctx context.Context, id uint64, addr string) error {
	return Guarded(ctx, l.opts.Guard, func() error { return l.addNode(id, addr) })
}

func (l *Local) addNode(id uint64, addr string) error {
	if l.closed.Load() {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.members {
		if m.ID == id {
			return &NodeError{Op: "add", Node: id, Err: ErrDuplicateNode}
		}
	}
	l.members = append(l.members, Member{ID: id, Addr: addr})
	return nil
}

// RemoveNode forgets a member.
func (l *Local) RemoveNode(ctx context.Context, id uint64) error {
	return Guarded(ctx, l.opts.Guard, func() error { return l.removeNode(id) })
}

func (l *Local) removeNode(id uint64) error {
	if l.closed.Load() {
		return ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, m := range l.members {
		if m.ID == id {
			l.members = slices.Delete(l.members, i, i+1)
			return nil
		}
	}
	return &NodeError{Op: "remove", Node: id, Err: ErrUnknownNode}
}

// Close ends every subscription and waits for their handlers to return
// (or ctx to end). Appends after Close fail with [ErrClosed].
func (l *Local) Close(ctx context.Context) error {
	if l.closed.Swap(true) {
		return nil
	}
	for _, lg := range l.logs {
		lg.Close()
	}
	l.mu.Lock()
	subs := slices.Collect(maps.Keys(l.subs))
	l.mu.Unlock()
	return coordlog.WaitDone(ctx, subs)
}
