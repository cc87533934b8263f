package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/propagation/journal"
)

// Options configure one node of a Raft cluster: [New] takes them. Node, Dir
// and Members (or Join and Addr) are required; every other zero field means
// its default.
type Options struct {
	// Node is this node's id, at least 1, unique in the cluster.
	Node uint64
	// Guard, when set, authorizes membership changes (AddNode,
	// RemoveNode); see coord.Options.Guard.
	Guard func(ctx context.Context, target string, change func() error) error
	// Dir holds the node's Raft log and snapshots. A node restarted with
	// the same Dir resumes from its own disk. Required.
	Dir string
	// Members maps every initial node id to its Raft address (host:port),
	// this node included, identical on every node. A node whose Dir
	// already holds data ignores it except for its own address.
	Members map[uint64]string
	// Join starts a node that is not among the initial members: it waits
	// to be added with AddNode on a running member. Addr is then required.
	Join bool
	// Observer starts this node as an observer of every shard: a
	// non-voting replica that follows the log and serves Read and
	// Subscribe locally, but never votes nor counts towards a quorum, so
	// its death never stops the cluster. Add it first with AddObserver on
	// a member (coord.AddObserver); it needs Join (and Addr).
	Observer bool
	// Addr is this node's Raft address; default Members[Node].
	Addr string
	// ListenAddr, when set, is the address to listen on when it differs
	// from Addr (behind NAT or a proxy).
	ListenAddr string

	// Shards is the number of Raft groups events are spread over, the
	// same on every node. Default 1.
	Shards int
	// Key picks an event's shard (coord.ShardOf its key); nil means
	// semevent.PathKey. Must be the same function on every node.
	Key semevent.KeyFunc
	// DeploymentID keeps clusters apart: nodes talk only to nodes with the
	// same one. Default 1.
	DeploymentID uint64

	// TLS, when set, makes nodes authenticate each other with mutual TLS.
	TLS *TLS

	// Logger receives dragonboat's log lines (component "dragonboat",
	// attribute "pkg" = the dragonboat package). nil means slog.Default();
	// slog.New(slog.DiscardHandler) silences it.
	// dragonboat's loggers are global to the process: with several
	// Coordinators open, its lines go to the oldest one's Logger. Peer
	// connection failures while a member dies or restarts are logged at
	// debug level. SetLogLevel sets dragonboat's own levels (default
	// ERROR), which filter before Logger's handler does.
	Logger *slog.Logger

	// RTT is the round trip time between nodes: the Raft tick. Default
	// 1ms (loopback or one rack).
	RTT time.Duration
	// ElectionRTT and HeartbeatRTT, in ticks. Defaults 100 and 10: with
	// 10 and 1, leaders on a loaded two-core machine were deposed every few
	// hundred milliseconds by heartbeats a few ticks late. PreVote and
	// CheckQuorum are always on, so a node cut off and back does not
	// depose a working leader.
	ElectionRTT, HeartbeatRTT uint64
	// SnapshotEntries is how many Raft entries pass between automatic
	// snapshots of a shard. Default 4096; negative disables snapshots
	// (and so Raft log compaction). The state machine's data is its
	// journal, so a periodic snapshot records only the applied index
	// (after fsyncing the journal): the Raft log is then compacted,
	// keeping SnapshotEntries/2 entries behind it for slow followers, so
	// it stays bounded however many events the shard holds. A follower
	// further behind gets a streamed snapshot: the records of the
	// leader's journal (see the package doc, # Storage).
	SnapshotEntries int
	// SnapshotBytes also bounds the Raft log by size: once a shard applied
	// this many proposal bytes since its last snapshot, the node takes one
	// (keeping SnapshotOverhead entries), however few entries that was
	// (Append packs concurrent events into entries of up to MaxBatchBytes,
	// so 4096 entries can hold gigabytes). Default 64 MiB; negative
	// leaves it to SnapshotEntries.
	SnapshotBytes int64

	// DedupWindow is how many of each shard's last committed event IDs
	// the state machine remembers for exactly-once appends (an event
	// whose ID is among them is not appended again: Append reports it
	// with Position.AlreadyCommitted). Count-based, the same on every
	// replica; kept in each shard's STATE checkpoint and in snapshots.
	// About 50 bytes of memory per ID per shard. Default
	// coord.DefaultDedupWindow (100,000); at most coord.MaxDedupWindow;
	// negative disables it.
	DedupWindow int

	// MaxConsumers bounds the consumer names whose offsets a shard keeps
	// on this node (coord.Offsets: one small file each in the shard
	// journal's consumers/ directory); CommitOffset of one more name fails
	// with coord.ErrTooManyConsumers. Default coord.DefaultMaxConsumers.
	MaxConsumers int

	// SegmentSize is the size of each shard journal's segment files.
	// Default journal.DefaultSegmentSize (64 MiB).
	SegmentSize int64
	// RetentionBytes and RetentionAge, when positive, delete a shard
	// journal's oldest sealed segments while the sealed ones exceed
	// RetentionBytes or are older than RetentionAge (journal.Options).
	// Records removed here can no longer be read on this node (Read and
	// Subscribe fail with coord.ErrCompacted), nor streamed to a replica
	// that lags behind them: that replica starts fresh (Health's
	// ShardHealth.FreshStart). Keep at least a few SnapshotEntries
	// entries' worth, and DedupWindow records. Default 0: keep everything.
	RetentionBytes int64
	RetentionAge   time.Duration
	// Encryption, when set, encrypts the shard journals at rest
	// (journal.Options.Encryption). Streamed snapshots travel in
	// plaintext over the (TLS) transport and are kept by dragonboat in
	// Dir until applied.
	Encryption *journal.Encryption

	// journalFS replaces the journals' file system in tests (crash
	// images): journal.OSFS() when nil.
	journalFS journal.FS

	// MaxEventSize bounds one event's encoding. Default
	// coord.DefaultMaxEventSize.
	MaxEventSize int
	// MaxBatchBytes bounds a proposal: concurrent Appends to one shard are
	// packed into proposals of up to this many bytes. The events of one
	// Append that fall in one shard commit in one proposal, so together
	// they must fit (else a *coord.SizeError with Events > 1). Default
	// 2 MiB.
	MaxBatchBytes int
	// MaxInflight is how many proposals one shard keeps in flight from
	// this node. Default 4.
	MaxInflight int
	// ProposalTimeout bounds how long a proposal is retried (through
	// elections and restarts) before Append gives up on it. Default 15s.
	ProposalTimeout time.Duration
	// AttemptTimeout bounds one attempt of a proposal, a read or a
	// membership change: an attempt without an answer by then is retried
	// (a proposal with the same client session, so it still applies at
	// most once). An attempt also ends, and is retried at once, as soon as
	// a new leader of its shard is known, so this bounds only the wait for
	// a request lost without a leader change. Default
	// max(5 × RTT × ElectionRTT, 1s): 1s with the default RTT and
	// ElectionRTT. At least 10 × RTT.
	AttemptTimeout time.Duration
	// ReadTimeout bounds a Read whose ctx has no deadline. Default 10s.
	ReadTimeout time.Duration
	// StartTimeout bounds how long New waits for every shard to elect a
	// leader and for the membership to match Members. Default 30s;
	// negative returns at once without checking.
	StartTimeout time.Duration

	// Heartbeat is the interval of the UDP heartbeats nodes send each
	// other (on the Raft address's port) for failure detection. Default
	// 100ms; negative disables them.
	Heartbeat time.Duration
	// Detector tunes the phi-accrual failure detector.
	Detector *coord.DetectorOptions
}

// TLS names the PEM files for mutual TLS between nodes: the CA that signs
// every node's certificate, and this node's certificate and key. The
// certificate needs a DNS or IP SAN naming the host of this node's Raft
// address and both serverAuth and clientAuth usages; see the package doc
// (# Mutual TLS) for how peers are checked.
type TLS struct {
	CAFile, CertFile, KeyFile string
}

// Defaults.
const (
	DefaultRTT             = time.Millisecond
	DefaultElectionRTT     = 100
	DefaultHeartbeatRTT    = 10
	DefaultSnapshotEntries = 4096
	DefaultSnapshotBytes   = 64 << 20
	// snapshotOverhead is how many entries a size-triggered snapshot
	// keeps in the Raft log for followers slightly behind.
	snapshotOverhead       = 256
	DefaultMaxBatchBytes   = 2 << 20
	DefaultMaxInflight     = 4
	DefaultProposalTimeout = 15 * time.Second
	DefaultReadTimeout     = 10 * time.Second
	DefaultStartTimeout    = 30 * time.Second
	DefaultHeartbeat       = 100 * time.Millisecond
)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Addr == "" && c.Members != nil {
		c.Addr = c.Members[c.Node]
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.Key == nil {
		c.Key = semevent.PathKey
	}
	if c.DeploymentID == 0 {
		c.DeploymentID = 1
	}
	if c.RTT == 0 {
		c.RTT = DefaultRTT
	}
	if c.ElectionRTT == 0 {
		c.ElectionRTT = DefaultElectionRTT
	}
	if c.HeartbeatRTT == 0 {
		c.HeartbeatRTT = DefaultHeartbeatRTT
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = DefaultSnapshotEntries
	}
	if c.DedupWindow == 0 {
		c.DedupWindow = coord.DefaultDedupWindow
	}
	if c.SnapshotBytes == 0 {
		c.SnapshotBytes = DefaultSnapshotBytes
	}
	if c.MaxConsumers == 0 {
		c.MaxConsumers = coord.DefaultMaxConsumers
	}
	if c.MaxEventSize == 0 {
		c.MaxEventSize = coord.DefaultMaxEventSize
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaxInflight == 0 {
		c.MaxInflight = DefaultMaxInflight
	}
	if c.ProposalTimeout == 0 {
		c.ProposalTimeout = DefaultProposalTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = max(5*c.RTT*time.Duration(c.ElectionRTT), time.Second)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	return c
}

// Validate reports every problem with o (after defaults), joined. A node
// missing from Members, or two members with one address, are
// coord.ErrMembership problems.
func (o *Options) Validate() error {
	c := o.withDefaults()
	e := &semevent.OptionsError{Options: "raft.Options"}
	bad := e.Addf
	var errs []error // membership problems, and the Detector's
	if c.Node == 0 {
		bad("Node", "missing (node ids start at 1)")
	}
	if c.Dir == "" {
		bad("Dir", "missing")
	}
	if c.Observer && !c.Join {
		bad("Observer", "an observer joins a running cluster: set Join and Addr, and add it with AddObserver on a member")
	}
	if c.Join {
		if c.Addr == "" {
			bad("Addr", "a joining node needs its address")
		}
	} else {
		if len(c.Members) == 0 {
			bad("Members", "missing (or set Join)")
		} else if _, ok := c.Members[c.Node]; !ok && c.Node != 0 {
			errs = append(errs, &coord.NodeError{Op: "start", Node: c.Node, Err: fmt.Errorf("%w: node %d is not among Members %v", coord.ErrMembership, c.Node, c.Members)})
		}
		addrs := make(map[string]uint64)
		for id, a := range c.Members {
			if id == 0 {
				bad("Members", "node id 0 (ids start at 1)")
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				bad(fmt.Sprintf("Members[%d]", id), "address %q: %v", a, err)
			}
			if other, dup := addrs[a]; dup {
				errs = append(errs, &coord.NodeError{Op: "start", Node: id, Err: fmt.Errorf("%w: nodes %d and %d share address %s", coord.ErrDuplicateNode, min(id, other), max(id, other), a)})
			}
			addrs[a] = id
		}
		if c.Addr != "" && c.Members[c.Node] != "" && c.Addr != c.Members[c.Node] {
			bad("Addr", "%q differs from Members[%d] = %q", c.Addr, c.Node, c.Members[c.Node])
		}
	}
	if c.Shards < 1 || c.Shards > coord.MaxShards {
		bad("Shards", "%d, want 1 to %d", c.Shards, coord.MaxShards)
	}
	if c.RTT < time.Millisecond {
		bad("RTT", "%v, want at least 1ms", c.RTT)
	}
	if c.ElectionRTT <= 2*c.HeartbeatRTT {
		bad("ElectionRTT", "%d ticks, want more than twice HeartbeatRTT (%d)", c.ElectionRTT, c.HeartbeatRTT)
	}
	if c.MaxEventSize < 64 {
		bad("MaxEventSize", "%d, want at least 64", c.MaxEventSize)
	}
	if c.MaxBatchBytes < c.MaxEventSize+16 {
		bad("MaxBatchBytes", "%d, want more than MaxEventSize (%d)", c.MaxBatchBytes, c.MaxEventSize)
	}
	if c.MaxBatchBytes > 32<<20 {
		bad("MaxBatchBytes", "%d, want at most 32 MiB", c.MaxBatchBytes)
	}
	if c.DedupWindow > coord.MaxDedupWindow {
		bad("DedupWindow", "%d, want at most %d", c.DedupWindow, coord.MaxDedupWindow)
	}
	if c.MaxConsumers < 0 {
		bad("MaxConsumers", "%d is negative", c.MaxConsumers)
	}
	if c.SegmentSize != 0 && c.SegmentSize < 1024 {
		bad("SegmentSize", "%d, want at least 1024", c.SegmentSize)
	}
	if c.RetentionBytes < 0 || c.RetentionAge < 0 {
		bad("RetentionBytes", "negative retention")
	}
	if c.Encryption != nil {
		if err := (&journal.Options{Encryption: c.Encryption}).Validate(); err != nil {
			bad("Encryption", "%v", err)
		}
	}
	if c.MaxInflight < 1 {
		bad("MaxInflight", "%d, want at least 1", c.MaxInflight)
	}
	if c.ProposalTimeout < 0 || c.ReadTimeout < 0 {
		bad("ProposalTimeout", "negative timeouts")
	}
	if c.AttemptTimeout < 10*c.RTT {
		bad("AttemptTimeout", "%v, want at least 10 × RTT (%v)", c.AttemptTimeout, 10*c.RTT)
	}
	if t := c.TLS; t != nil && (t.CAFile == "" || t.CertFile == "" || t.KeyFile == "") {
		bad("TLS", "CAFile, CertFile and KeyFile are all required")
	}
	if c.Detector != nil {
		if err := c.Detector.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append([]error{e.Err()}, errs...)...)
}
