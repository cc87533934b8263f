package raft

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/logger"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/coordlog"
	"github.com/vexfs/semevent/internal/logx"
)

// Coordinator is one node of a Raft cluster: a [coord.Coordinator] whose
// shards are dragonboat Raft groups replicated on every node, and a
// [coord.Membership]. It is safe for concurrent use.
type Coordinator struct {
	opts    Options
	unroute func() // stops routing dragonboat's lines to opts.Logger
	nh      *dragonboat.NodeHost
	ids     *semevent.IDGenerator
	reps    *replicas
	ws      []*writer
	det     *coord.Detector
	hb      *heartbeats
	leaders *leaderWatch // wakes attempts when a shard's leader changes
	obs     *observerSet // every shard's observers, as this node last read them

	members      *memberSet     // the membership as this node knows it
	peersRefused *atomic.Uint64 // TLS peers and messages refused for their identity

	base    context.Context // ends on Close
	stop    context.CancelFunc
	wg      sync.WaitGroup // proposer goroutines
	closed  atomic.Bool
	retries atomic.Uint64 // proposal attempts retried
	props   atomic.Uint64 // proposals committed
	propEvs atomic.Uint64 // events in them
	propNs  atomic.Int64  // time spent in committed proposals

	sizeSnapshots atomic.Uint64 // snapshots taken for SnapshotBytes

	mu   sync.Mutex // guards subs
	subs map[*subscription]struct{}
}

var (
	_ coord.Coordinator    = (*Coordinator)(nil)
	_ coord.Membership     = (*Coordinator)(nil)
	_ coord.AtomicAppender = (*Coordinator)(nil)
	_ coord.Observers      = (*Coordinator)(nil)
	_ coord.Offsets        = (*Coordinator)(nil)
)

// SetLogLevel sets the level of dragonboat's loggers, which are global to
// the process; their lines go through Options.Logger. The default is
// ERROR, since even at WARNING dragonboat logs every step of every
// election.
func SetLogLevel(l logger.LogLevel) {
	for _, name := range []string{"config", "dragonboat", "gossip", "grpc", "logdb", "LogDB", "pebblekv",
		"raft", "raft-mt", "raftpb", "registry", "rsm", "server", "settings", "tan", "tools", "transport"} {
		logger.GetLogger(name).SetLevel(l)
	}
}

func shardID(shard int) uint64 { return uint64(shard) + 1 }

// New starts this node. Unless StartTimeout is negative it returns only
// once every shard has a leader, so the other members must be starting
// too; a node that cannot reach a quorum within StartTimeout fails with
// an error wrapping coord.ErrNoQuorum rather than hang. A node whose Dir
// holds data resumes from it.
func New(opts *Options) (*Coordinator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	unroute := routeDragonboat(o.Logger)
	c, err := start(o, unroute)
	if err != nil {
		unroute()
		return nil, err
	}
	return c, nil
}

func start(o Options, unroute func()) (*Coordinator, error) {
	nhc := config.NodeHostConfig{
		DeploymentID:   o.DeploymentID,
		NodeHostDir:    o.Dir,
		RTTMillisecond: uint64(o.RTT / time.Millisecond),
		RaftAddress:    o.Addr,
		ListenAddress:  o.ListenAddr,
		// The Raft log is compacted by size (SnapshotBytes), so small
		// memtables (4 × 4 MiB) suffice; larger ones only raised the RSS
		// (1.8-2.1× from 1 M to 10 M events with 4 × 16 MiB, 1.3-1.4× with
		// these: TestRSSReplicated).
		Expert: config.ExpertConfig{LogDB: config.GetTinyMemLogDBConfig()},
	}
	// One small pebble instance per shard (up to 16) rather than 16
	// large ones: Raft groups write their logs in parallel, and a node
	// reserves megabytes of disk, not hundreds.
	nhc.Expert.LogDB.Shards = uint64(min(o.Shards, 16))
	leaders := newLeaderWatch()
	nhc.RaftEventListener = leaders
	obs := newObserverSet(o.Shards)
	nhc.SystemEventListener = obs
	members, peersRefused := newMemberSet(o.Members), new(atomic.Uint64)
	listen := o.ListenAddr
	if listen == "" {
		listen = o.Addr
	}
	tf := &peerFactory{self: o.Node, listen: listen, members: members, refused: peersRefused, log: logx.For(o.Logger, "coord/raft")}
	if o.TLS != nil {
		// Check the files first: a certificate peers would refuse fails
		// here, naming the cause, rather than as ErrNoQuorum later.
		id, err := loadTLS(o.TLS, o.Node, o.Addr, time.Now())
		if err != nil {
			return nil, &coord.NodeError{Op: "start", Node: o.Node, Err: err}
		}
		tf.id = id
	}
	nhc.Expert.TransportFactory = tf
	snapKick := make(chan int, o.Shards)
	reps, err := shardConfigs(o, snapKick)
	if err != nil {
		return nil, &coord.NodeError{Op: "start", Node: o.Node, Err: err}
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err != nil {
		return nil, &coord.NodeError{Op: "start", Node: o.Node, Err: err}
	}
	det, err := coord.NewDetector(o.Detector)
	if err != nil {
		nh.Close()
		return nil, err
	}
	c := &Coordinator{
		opts:    o,
		unroute: unroute,
		nh:      nh,
		ids:     semevent.NewIDGenerator(uint32(o.Node)),
		reps:    reps,
		det:     det,
		leaders: leaders,
		obs:     obs,
		subs:    make(map[*subscription]struct{}),

		members:      members,
		peersRefused: peersRefused,
	}
	c.base, c.stop = context.WithCancel(context.Background())
	if o.SnapshotBytes > 0 {
		c.wg.Add(1)
		go c.snapshotter(snapKick)
	}
	fresh := true
	for i := range o.Shards {
		c.ws = append(c.ws, &writer{c: c, shard: i, shardID: shardID(i)})
		if nh.HasNodeInfo(shardID(i), o.Node) {
			fresh = false
		}
		cfg := config.Config{
			ReplicaID:    o.Node,
			ShardID:      shardID(i),
			CheckQuorum:  true,
			PreVote:      true,
			ElectionRTT:  o.ElectionRTT,
			HeartbeatRTT: o.HeartbeatRTT,
			IsNonVoting:  o.Observer,
		}
		if o.SnapshotEntries > 0 {
			cfg.SnapshotEntries = uint64(o.SnapshotEntries)
			cfg.CompactionOverhead = uint64(o.SnapshotEntries) / 2
		}
		members := make(map[uint64]dragonboat.Target, len(o.Members))
		if !o.Join {
			for id, a := range o.Members {
				members[id] = a
			}
		}
		if err := nh.StartOnDiskReplica(members, o.Join, c.reps.factory(i), cfg); err != nil {
			nh.Close()
			c.stop()
			if errors.Is(err, dragonboat.ErrInvalidShardSettings) || errors.Is(err, dragonboat.ErrShardAlreadyExist) {
				err = fmt.Errorf("%w: %w", coord.ErrMembership, err)
			}
			return nil, &coord.NodeError{Op: "start", Node: o.Node, Err: fmt.Errorf("shard %d: %w", i, err)}
		}
	}
	for id := range o.Members {
		if id != o.Node {
			det.Watch(id, time.Now())
		}
	}
	c.wg.Add(1)
	go obs.run(c)
	obs.changedAll()
	if o.Heartbeat > 0 {
		hb, err := startHeartbeats(c)
		if err != nil {
			c.Close(context.Background())
			return nil, &coord.NodeError{Op: "start", Node: o.Node, Err: err}
		}
		c.hb = hb
	}
	if o.StartTimeout > 0 {
		if err := c.waitReady(fresh); err != nil {
			c.Close(context.Background())
			return nil, &coord.NodeError{Op: "start", Node: o.Node, Err: err}
		}
		// A joined node learns the membership here if it can, so that
		// its TLS transport binds identities without waiting for the
		// heartbeat loop (which keeps it current).
		if m := c.shardMembers(); len(m) > 0 {
			c.members.set(m)
		}
	}
	if c.hb != nil {
		c.hb.refresh() // the membership waitReady checked, not a beat old
		c.hb.ready.Store(true)
	}
	return c, nil
}

// shardMembers returns the members of shard 0 as this node knows them,
// or Options.Members before it knows any.
func (c *Coordinator) shardMembers() map[uint64]string {
	m, _ := c.shardMembersKnown()
	return m
}

// shardMembersKnown is shardMembers, and whether they are shard 0's as
// this node applied them rather than Options.Members.
func (c *Coordinator) shardMembersKnown() (map[uint64]string, bool) {
	info := c.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true})
	for _, si := range info.ShardInfoList {
		if si.ShardID == shardID(0) && !si.Pending && len(si.Replicas) > 0 {
			return si.Replicas, true
		}
	}
	return c.opts.Members, false
}

// beatWait is how many heartbeat intervals a fresh node waits, once it
// knows its leaders, for a member's beat to confirm its Options.
const beatWait = 10

// waitReady waits for every shard's state machine and leader and, on a
// fresh start, checks that the cluster's membership is Members and its
// shard count Shards: a running member's heartbeat that disagrees fails
// it with coord.ErrMembership at once, even while this node waits for a
// leader it would never get; once the leaders are known it waits up to
// beatWait heartbeats for a member's beat that agrees.
func (c *Coordinator) waitReady(fresh bool) error {
	ctx, cancel := context.WithTimeout(c.base, c.opts.StartTimeout)
	defer cancel()
	check := fresh && !c.opts.Join && c.hb != nil && len(c.opts.Members) > 1
	for i := range c.opts.Shards {
		for {
			if check {
				if _, err := c.hb.checkBeats(); err != nil {
					return err
				}
			}
			_, _, ok, _ := c.nh.GetLeaderID(shardID(i))
			if ok && c.reps.get(i) != nil {
				break
			}
			if !sleepCtx(ctx, 5*time.Millisecond) {
				return fmt.Errorf("%w: shard %d has no leader after %v: are a majority of %v running with the same Members, DeploymentID and TLS settings?",
					coord.ErrNoQuorum, i, c.opts.StartTimeout, c.opts.Members)
			}
		}
		if !fresh || c.opts.Join {
			continue
		}
		m, err := c.membership(ctx, i)
		if err != nil {
			return err
		}
		want := make(map[uint64]string, len(c.opts.Members))
		for id, a := range c.opts.Members {
			want[id] = a
		}
		if !mapsEqual(m.Nodes, want) {
			return fmt.Errorf("%w: shard %d has members %v, this node was started with %v", coord.ErrMembership, i, m.Nodes, want)
		}
	}
	if !check {
		return nil
	}
	for deadline := time.Now().Add(beatWait * c.opts.Heartbeat); ; {
		agreed, err := c.hb.checkBeats()
		if err != nil || agreed || time.Now().After(deadline) || !sleepCtx(ctx, 5*time.Millisecond) {
			return err
		}
	}
}

func mapsEqual(a, b map[uint64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// mapErr turns a dragonboat error into one of coord's.
func (c *Coordinator) mapErr(op string, err error, ctx context.Context) error {
	switch {
	case c.closed.Load() || errors.Is(err, dragonboat.ErrClosed) || errors.Is(err, dragonboat.ErrShardClosed):
		return fmt.Errorf("coord/raft: %s: %w", op, coord.ErrClosed)
	case errors.Is(err, dragonboat.ErrPayloadTooBig):
		return fmt.Errorf("coord/raft: %s: %w: %w", op, coord.ErrTooLarge, err)
	case retryable(err):
		if ctx != nil && ctx.Err() != nil {
			return fmt.Errorf("coord/raft: %s: %w: %w (last: %v)", op, coord.ErrNoQuorum, ctx.Err(), err)
		}
		return fmt.Errorf("coord/raft: %s: %w: %w", op, coord.ErrNoQuorum, err)
	}
	return fmt.Errorf("coord/raft: %s: %w", op, err)
}

func (c *Coordinator) checkShard(shard int) error {
	if shard < 0 || shard >= c.opts.Shards {
		return &coord.ShardError{Shard: shard, Shards: c.opts.Shards}
	}
	return nil
}

// Append commits evs; see [coord.Coordinator.Append]. The events for one
// shard are one request, never split: they are packed with those of
// concurrent Appends into one proposal, which Raft applies whole or not at
// all. A proposal is retried through leader changes for up to
// ProposalTimeout, exactly once thanks to its client session; an attempt
// whose leader died is retried as soon as a new leader is known. If ctx
// ends first, Append returns an *coord.AppendError: wrapping
// coord.ErrOutcomeUnknown when the events were already handed to Raft
// (they may still commit, once), or just ctx's error when they were not.
func (c *Coordinator) Append(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	return c.appendEvents(ctx, evs, false)
}

// AppendAtomic commits evs in one proposal or not at all; see
// [coord.AtomicAppender]. Events whose keys map to different shards fail
// with a *coord.CrossShardError before anything is proposed.
func (c *Coordinator) AppendAtomic(ctx context.Context, evs ...*semevent.Event) ([]coord.Position, error) {
	return c.appendEvents(ctx, evs, true)
}

func (c *Coordinator) appendEvents(ctx context.Context, evs []*semevent.Event, atomic bool) ([]coord.Position, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("coord/raft: append: %w", coord.ErrClosed)
	}
	for i, ev := range evs {
		if err := coord.CheckEvent(i, ev, c.opts.MaxEventSize); err != nil {
			return nil, err
		}
	}
	if atomic {
		if _, err := coord.OneShard(c.opts.Key, c.opts.Shards, evs); err != nil {
			return nil, err
		}
	}
	pos := make([]coord.Position, len(evs))
	if len(evs) == 0 {
		return pos, nil
	}
	reqs := make(map[int]*request, 1)
	order := make([]int, 0, 1) // shards in first-seen order
	firstOf := make(map[int]int, 1)
	for i, ev := range evs {
		c.ids.Stamp(ev)
		s := coord.ShardOf(c.opts.Key(ev), c.opts.Shards)
		pos[i].Shard = s
		r := reqs[s]
		if r == nil {
			r = &request{done: make(chan struct{})}
			reqs[s] = r
			order = append(order, s)
			firstOf[s] = i
		}
		before := len(r.body)
		r.body = append(r.body, 0, 0, 0, 0, 0) // room for the length prefix
		r.body = codec.Append(r.body, ev)
		r.body = fixLength(r.body, before)
		r.n++
	}
	for _, s := range order {
		// A shard's events commit in one proposal, so they must fit in one.
		if r := reqs[s]; len(r.body) > c.opts.MaxBatchBytes {
			i := firstOf[s]
			return nil, &coord.SizeError{Index: i, ID: evs[i].ID, Size: len(r.body), Max: c.opts.MaxBatchBytes, Events: r.n}
		}
	}
	for _, s := range order {
		c.ws[s].submit(reqs[s])
	}
	var errs []error
	done := make(map[int][]slot, len(order))
	for _, s := range order {
		r := reqs[s]
		select {
		case <-r.done:
			if r.err != nil {
				errs = append(errs, r.err)
			} else {
				done[s] = r.slots
			}
		case <-ctx.Done():
			if c.ws[s].withdraw(r) {
				errs = append(errs, fmt.Errorf("coord/raft: append to shard %d: not proposed: %w", s, ctx.Err()))
			} else {
				errs = append(errs, fmt.Errorf("coord/raft: append to shard %d: %w: %w", s, coord.ErrOutcomeUnknown, ctx.Err()))
			}
		}
	}
	committed := make([]coord.Position, len(evs))
	for i := range pos {
		if sl, ok := done[pos[i].Shard]; ok {
			pos[i].Index, pos[i].AlreadyCommitted = sl[0].index, sl[0].already
			committed[i] = pos[i]
			done[pos[i].Shard] = sl[1:]
		}
	}
	if len(errs) > 0 {
		return nil, &coord.AppendError{Committed: committed, Err: errors.Join(errs...)}
	}
	return pos, nil
}

// fixLength rewrites the 5 bytes reserved at before as the uvarint length
// of the record after them, moving the record left when the length takes
// fewer bytes.
func fixLength(b []byte, before int) []byte {
	rec := len(b) - before - 5
	var tmp [5]byte
	n := putUvarint(tmp[:], uint64(rec))
	copy(b[before:], tmp[:n])
	if n < 5 {
		copy(b[before+n:], b[before+5:])
		b = b[:len(b)-(5-n)]
	}
	return b
}

func putUvarint(b []byte, v uint64) int {
	i := 0
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

func (c *Coordinator) readCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.opts.ReadTimeout)
}

// Health reports every shard's leader as this node last heard, the index
// this node applied, and the failure detector's view of every member.
func (c *Coordinator) Health(ctx context.Context) coord.Health {
	h := coord.Health{Node: c.opts.Node, Healthy: !c.closed.Load()}
	if c.closed.Load() {
		return h
	}
	info := c.nh.GetNodeHostInfo(dragonboat.NodeHostInfoOption{SkipLogInfo: true})
	members := make(map[uint64]bool)
	for i := range c.opts.Shards {
		sh := coord.ShardHealth{Shard: i}
		for _, si := range info.ShardInfoList {
			if si.ShardID == shardID(i) {
				sh.Leader, sh.Term, sh.Members = si.LeaderID, si.Term, len(si.Replicas)
				for id := range si.Replicas {
					members[id] = true
				}
			}
		}
		if s := c.reps.get(i); s != nil {
			j, _, _, _ := s.view()
			sh.Applied, sh.First = j.NextOffset(), j.FirstOffset()+1
			s.mu.Lock()
			sh.FreshStart = s.fresh
			s.mu.Unlock()
		}
		sh.Observers = c.obs.ids(i)
		if sh.Leader == 0 {
			h.Healthy = false
		}
		h.Shards = append(h.Shards, sh)
	}
	for _, p := range c.det.Peers(time.Now()) {
		if p.Node == c.opts.Node || (len(members) > 0 && !members[p.Node]) {
			continue
		}
		if p.Suspected {
			h.Healthy = false
		}
		h.Peers = append(h.Peers, p)
	}
	return h
}

func (c *Coordinator) membership(ctx context.Context, shard int) (*dragonboat.Membership, error) {
	ctx, cancel := c.readCtx(ctx)
	defer cancel()
	for {
		actx, end := c.leaders.attempt(ctx, shardID(shard), c.opts.AttemptTimeout)
		m, err := c.nh.SyncGetShardMembership(actx, shardID(shard))
		end(err)
		if err == nil {
			return m, nil
		}
		if !retryable(err) || c.closed.Load() || !sleepCtx(ctx, 2*time.Millisecond) {
			return nil, c.mapErr(fmt.Sprintf("membership of shard %d", shard), err, ctx)
		}
	}
}

// Members lists the voting members of shard 0 (every shard has the same
// members unless a membership change failed part way).
func (c *Coordinator) Members(ctx context.Context) ([]coord.Member, error) {
	if c.closed.Load() {
		return nil, fmt.Errorf("coord/raft: members: %w", coord.ErrClosed)
	}
	m, err := c.membership(ctx, 0)
	if err != nil {
		return nil, err
	}
	out := make([]coord.Member, 0, len(m.Nodes))
	for id, a := range m.Nodes {
		out = append(out, coord.Member{ID: id, Addr: a})
	}
	slices.SortFunc(out, func(a, b coord.Member) int { return compareU64(a.ID, b.ID) })
	return out, nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// AddNode adds node id at addr to every shard; start that node with Join
// set. See [coord.Membership].
func (c *Coordinator) AddNode(ctx context.Context, id uint64, addr string) error {
	return coord.Guarded(ctx, c.opts.Guard, func() error { return c.changeMembers(ctx, "add", id, addr) })
}

// AddObserver adds node id at addr to every shard as an observer, a
// non-voting replica: start that node with Observer and Join set. See
// [coord.Observers].
func (c *Coordinator) AddObserver(ctx context.Context, id uint64, addr string) error {
	return coord.Guarded(ctx, c.opts.Guard, func() error { return c.changeMembers(ctx, "observe", id, addr) })
}

// RemoveNode removes node id, a member or an observer, from every shard.
// See [coord.Membership].
func (c *Coordinator) RemoveNode(ctx context.Context, id uint64) error {
	return coord.Guarded(ctx, c.opts.Guard, func() error { return c.changeMembers(ctx, "remove", id, "") })
}

func (c *Coordinator) changeMembers(ctx context.Context, op string, id uint64, addr string) error {
	if c.closed.Load() {
		return fmt.Errorf("coord/raft: %s node: %w", op, coord.ErrClosed)
	}
	if id == 0 {
		return &coord.NodeError{Op: op, Node: id, Err: coord.ErrUnknownNode}
	}
	ctx, cancel := c.readCtx(ctx)
	defer cancel()
	for i := range c.opts.Shards {
		attempted := false
	retry:
		for {
			m, err := c.membership(ctx, i)
			if err != nil {
				return &coord.NodeError{Op: op, Node: id, Err: err}
			}
			_, voter := m.Nodes[id]
			_, observer := m.NonVotings[id]
			var done, other bool // other: id is the other kind of member
			switch op {
			case "add":
				done, other = voter, observer
			case "observe":
				done, other = observer, voter
			default:
				done = !voter && !observer
			}
			if other {
				return &coord.NodeError{Op: op, Node: id, Err: coord.ErrDuplicateNode}
			}
			if done {
				// Done already: by an earlier attempt whose answer was
				// lost, or on an earlier shard by an interrupted call.
				if attempted || i > 0 {
					break retry
				}
				if op == "remove" {
					return &coord.NodeError{Op: op, Node: id, Err: coord.ErrUnknownNode}
				}
				return &coord.NodeError{Op: op, Node: id, Err: coord.ErrDuplicateNode}
			}
			attempted = true
			actx, end := c.leaders.attempt(ctx, shardID(i), c.opts.AttemptTimeout)
			switch op {
			case "add":
				err = c.nh.SyncRequestAddReplica(actx, shardID(i), id, addr, m.ConfigChangeID)
			case "observe":
				err = c.nh.SyncRequestAddNonVoting(actx, shardID(i), id, addr, m.ConfigChangeID)
			default:
				err = c.nh.SyncRequestDeleteReplica(actx, shardID(i), id, m.ConfigChangeID)
			}
			end(err)
			if err == nil {
				break retry
			}
			if (!retryable(err) && !errors.Is(err, dragonboat.ErrRejected)) || !sleepCtx(ctx, 5*time.Millisecond) {
				return &coord.NodeError{Op: op, Node: id, Err: c.mapErr("change membership", err, ctx)}
			}
		}
	}
	switch op {
	case "add":
		c.members.update(id, addr)
		c.det.Watch(id, time.Now())
	case "observe":
		c.members.update(id, addr) // its TLS identity
		c.obs.changedAll()
	default:
		c.members.update(id, "")
		c.det.Forget(id)
		c.obs.changedAll()
	}
	return nil
}

// Stats counts this node's proposals since New.
type Stats struct {
	Proposals uint64 // proposals committed
	Events    uint64 // events in them
	Retries   uint64 // proposal attempts retried (timeouts, no leader)
	// LeaderWakes counts attempts (proposals, reads, sessions,
	// membership) ended early, and retried at once, because a new leader
	// of their shard became known.
	LeaderWakes uint64
	Latency     time.Duration // mean time from first attempt to commit
	// HeartbeatsRefused counts UDP heartbeats dropped because their node
	// id is not a member of the cluster.
	HeartbeatsRefused uint64
	// PeersRefused counts, with TLS, connections whose certificate names
	// no member and messages whose sender the certificate does not name;
	// and, with or without TLS, message batches dropped because their
	// source address is not their sender's member address.
	PeersRefused uint64
	// SizeSnapshots counts the snapshots taken because a shard applied
	// SnapshotBytes since its last one (Raft log compaction by size).
	SizeSnapshots uint64
}

// Stats returns this node's proposal counters.
func (c *Coordinator) Stats() Stats {
	s := Stats{Proposals: c.props.Load(), Events: c.propEvs.Load(), Retries: c.retries.Load(), LeaderWakes: c.leaders.wakes.Load()}
	if c.hb != nil {
		s.HeartbeatsRefused = c.hb.refused.Load()
	}
	s.PeersRefused = c.peersRefused.Load()
	s.SizeSnapshots = c.sizeSnapshots.Load()
	if s.Proposals > 0 {
		s.Latency = time.Duration(c.propNs.Load() / int64(s.Proposals))
	}
	return s
}

// NodeHost returns the dragonboat NodeHost under the coordinator, for
// what this package does not wrap. Do not close it.
func (c *Coordinator) NodeHost() *dragonboat.NodeHost { return c.nh }

// Close stops the node: proposals in flight fail with coord.ErrClosed,
// subscriptions end, the heartbeats stop and the NodeHost closes. The data
// stays in Dir for a restart.
func (c *Coordinator) Close(ctx context.Context) error {
	if c.closed.Swap(true) {
		return nil
	}
	c.stop()
	c.wg.Wait()
	if c.hb != nil {
		c.hb.close()
	}
	c.nh.Close() // closes the state machines, which ends subscriptions
	c.leaders.close()
	c.unroute()
	c.mu.Lock()
	subs := slices.Collect(maps.Keys(c.subs))
	c.mu.Unlock()
	return coordlog.WaitDone(ctx, subs)
}

// snapshotter takes a snapshot of each shard that applied SnapshotBytes
// since its last one (shardSM.Update kicks it), so that the Raft log is
// compacted by size as well as by SnapshotEntries. The snapshot of an
// on-disk state machine holds no data: it syncs the journal and lets
// dragonboat drop the entries before it (keeping snapshotOverhead).
func (c *Coordinator) snapshotter(kick <-chan int) {
	defer c.wg.Done()
	for {
		select {
		case <-c.base.Done():
			return
		case shard := <-kick:
			rs, err := c.nh.RequestSnapshot(shardID(shard), dragonboat.SnapshotOption{OverrideCompactionOverhead: true, CompactionOverhead: snapshotOverhead}, c.opts.ProposalTimeout)
			if err == nil {
				select {
				case <-rs.ResultC():
					c.sizeSnapshots.Add(1)
				case <-c.base.Done():
					return
				}
			}
			if s := c.reps.get(shard); s != nil {
				s.sinceSnap.Store(0)
				s.snapAsked.Store(false)
			}
		}
	}
}
