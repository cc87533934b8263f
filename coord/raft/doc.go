// Package raft is the replicated [coord.Coordinator]: every shard of the
// event log is a dragonboat (github.com/lni/dragonboat/v4) Raft group
// replicated on every node, so that several instances agree on one order
// of events. It is the only semevent package that imports dragonboat.
//
// # Usage
//
// Every node runs [New] with its own id and data directory and the same
// Members map (and Shards, Key, DeploymentID):
//
//	c, err := raft.New(&raft.Options{
//		Node:    1,
//		Dir:     "/var/lib/app/raft",
//		Members: map[uint64]string{1: "10.0.0.1:7100", 2: "10.0.0.2:7100", 3: "10.0.0.3:7100"},
//		TLS:     &raft.TLS{CAFile: "ca.pem", CertFile: "node1.pem", KeyFile: "node1-key.pem"},
//	})
//
// New returns once every shard has a leader, so start the nodes together.
// A node restarted with the same Dir resumes from its own disk: each
// shard's journal, then the Raft log after it. A node added later starts
// with Join and is added with [Coordinator.AddNode] on a member.
//
// # Starting with the cluster's configuration
//
// A node started fresh (an empty Dir, without Join) must be given the
// running cluster's Shards and Members. Each node's UDP heartbeat carries
// a fingerprint of its shard count and of shard 0's members (id and
// address), and says whether the node runs (its New returned and it knows
// shard 0's membership as applied). A fresh node's New fails with a
// *coord.NodeError wrapping coord.ErrMembership, naming the running node,
// its shard count and member count, as soon as two beats in a row from a
// running node of the deployment disagree with its Options — fewer or
// more shards, another member list, or another address of its own —
// instead of running on part of the cluster's shards or waiting
// StartTimeout for a quorum it could never join. A running node answers a
// beat that disagrees with its own at the sender's address (at most once
// per Heartbeat per address), so a node the members do not know hears it
// too. Once its leaders are known, a fresh node waits up to 10 heartbeats
// for a beat that agrees. Nodes that start together check nothing
// against each other until one runs; with Heartbeat negative there is no
// check (TestFreshNodeWithOtherConfigRefused,
// TestFreshNodeLateWithSameConfig). Heartbeats are not authenticated, so
// a forged beat can fail a fresh node's New this way. Nodes of an earlier
// version accept only their own, shorter beats: while a TLS cluster is
// upgraded node by node, their Health shows the upgraded nodes as
// suspected.
// A node restarted from its Dir is checked against its shard directories
// instead (see # Errors).
//
// Raft messages travel on a transport of this package: length-prefixed
// dragonboat messages over TCP, with mutual TLS when Options.TLS is set
// (see # Mutual TLS). A message batch whose source address is not its
// sender's member address — a node started on another address than the
// members know — is dropped and counted ([Stats].PeersRefused); it used
// to make dragonboat panic on every member it reached
// (TestPeerOnOtherAddressDropped). Nodes of a version that used
// dragonboat's own TCP transport cannot talk to these.
//
// Append packs the events of concurrent calls for one shard into one
// proposal (group commit, up to MaxBatchBytes, MaxInflight proposals in
// flight per shard) and returns once they are committed on a quorum. When
// an attempt times out or the leader changes, the same proposal is retried;
// the state machine applies each event once (see # Exactly once). Read is
// linearizable (a ReadIndex through the leader, then this node's journal);
// Subscribe follows this node's journal. Events travel as internal/codec
// records, the journal's encoding, so every field, context included,
// arrives intact.
//
// # Storage
//
// Each shard's state machine is a dragonboat on-disk state machine whose
// data is a propagation/journal in <Dir>/shards/<n>/journal: the same
// record format, encryption at rest (Options.Encryption) and retention
// (Options.RetentionBytes, RetentionAge) as any journal. Every record
// carries 24 bytes of metadata: the Raft index of its entry, the origin
// node, its position in the entry and the entry's event count. A record's
// index in coord is its journal offset + 1. The journal is written with
// journal.SyncNever — the Raft log is the write-ahead log — and fsynced
// when dragonboat syncs the state machine (before each periodic snapshot).
// The applied Raft index is in each record's frame, so it is persisted
// atomically with the records: Open reads the last record; a complete
// entry is applied, an entry a kill cut short is applied again and skips
// the records already written. Nothing is applied twice or skipped
// (TestKillMidEntry: a child process SIGKILLed between an entry's
// records; TestPowerLossImages: kill and power-loss images of
// journaltest.CrashFS at random points, every entry re-applied to an
// identical journal). A STATE file beside the journal (written at each
// sync: temporary file, fsync, rename) holds the applied index of entries
// that appended nothing and the exactly-once window; an IDENTITY file,
// written once, names the deployment, shard, shard count and node.
//
// Memory does not grow with the log as it did when the state machine
// held it: the state machine holds the exactly-once window (DedupWindow
// IDs per shard, 32 bytes each and at most 16 more of index) and the
// journal's buffers. Measured by TestRSSReplicated (SEMEVENT_RSS=1: three
// node processes, 10 M events), the RSS of a node grew 1.19-1.40× from
// 1 M to 10 M events across runs (131-146 MB at 10 M). Part of that is C
// memory: dragonboat's log store (pebble) allocates its memtables with C
// malloc when built with cgo, and glibc's per-thread arenas keep freed
// ones resident (16-22 MB per million events with 4 × 16 MiB memtables;
// this package configures 4 × 4 MiB). Built with CGO_ENABLED=0 a node
// used less at every milestone, 77-90 MB at 1 M and 77-114 MB at 10 M,
// but the ratio still ranged 0.99-1.48× between two runs. Long-running
// nodes use less memory built that way.
//
// The periodic snapshots of an on-disk state machine hold no data
// (dragonboat's "dummy" snapshots): every SnapshotEntries entries, and
// whenever a shard applied SnapshotBytes (default 64 MiB) since its last
// snapshot, the journal is fsynced and the Raft log compacted, keeping
// SnapshotEntries/2 entries (256 for a size-triggered one) for followers
// slightly behind, so the Raft log stays bounded in entries and in bytes
// (TestRaftLogBoundedBySize; Stats.SizeSnapshots counts them). A
// follower further behind, or a new one, gets a streamed snapshot: the
// applied index, the exactly-once window and the leader's retained
// journal records (snapshots never copy a log held in memory). The
// follower appends only the records it lacks (TestSnapshotStreamsTheJournal,
// TestLaggingReplicaCatchesUp). When its journal ends before the leader's
// first retained record — it fell behind retention — it moves its journal
// aside to journal.behind-<n> (kept for the operator; delete it when
// done), starts a fresh journal at that record, logs a warning, and
// reports a fresh start: coord.ShardHealth.FreshStart and First. Read and
// Subscribe before First fail with coord.ErrCompacted: never a silent
// hole.
//
// Data directories written by versions that kept the log in memory
// (before on-disk state machines) cannot be opened; start those nodes
// with an empty Dir.
//
// # Exactly once
//
// dragonboat gives on-disk state machines no client sessions. Instead
// each shard remembers the IDs of its last DedupWindow committed events
// (default 100,000, count-based and so identical on every replica, kept in
// STATE and in snapshots, rebuilt at Open from STATE and the records
// after it): an event whose ID is there is not appended again, and Append
// reports it at its first index with coord.Position.AlreadyCommitted.
// This covers a proposal retried after a timeout, and a client retrying
// an unknown outcome with the same IDs on any node. An ID older than the
// window is appended again. Each record names the node that proposed it
// (coord.Record.Origin). Consumer offsets (coord.Offsets) are kept per
// node in each shard journal's consumers/ directory, at most
// Options.MaxConsumers names per shard (coord.ErrTooManyConsumers past
// it); a fresh start moves them aside with the old journal.
//
// # Failover, atomic batches and unknown outcomes
//
// An attempt of a proposal (or read) lasts at most Options.AttemptTimeout,
// but ends as soon as a new leader of its shard is known (dragonboat's
// LeaderUpdated): a proposal forwarded to a leader that died is lost
// without an answer, and is retried on the new
// leader at once ([Stats].LeaderWakes counts these);
// TestFailoverRetriesOnLeaderChange shows an append around a leader's
// death completing under a ten-minute AttemptTimeout.
//
// The events of one Append that fall in one shard are one request, never
// split across proposals: they commit together or not at all, contiguous
// and in the order given (coordtest's OneShardContiguous). A shard's events
// must therefore fit in MaxBatchBytes together, else a *coord.SizeError
// with Events > 1 before anything is proposed (TestAppendBatchTooLarge).
// [Coordinator.AppendAtomic] ([coord.AtomicAppender]) also refuses events
// of several shards, with a *coord.CrossShardError, before proposing.
//
// When Append cannot know whether its events committed — its ctx ended,
// or ProposalTimeout passed, after the proposal was handed to Raft — it
// returns a *coord.AppendError wrapping coord.ErrOutcomeUnknown: the
// events may or may not have committed, retry them with the same IDs. An
// Append whose ctx ends while its request still waits for a proposer is
// withdrawn and reported as not committed (TestAppendOutcomeUnknown).
//
// # Observers
//
// An observer is a non-voting replica of every shard (dragonboat's
// non-voting member): add it with [Coordinator.AddObserver]
// ([coord.AddObserver]) on a member, then start it with Options.Observer
// and Join. It receives every committed entry and serves Read and
// Subscribe from its own replica (Read stays linearizable: a ReadIndex
// through the leader first, so it needs a quorum like any Read; Subscribe
// follows what the observer applied, with no round trip), and it is never
// elected nor counted in a quorum, so its death never stops the cluster. [coord.ShardHealth].Observers lists
// a shard's observers (read again whenever this node applies a membership
// change), Members does not; RemoveNode removes one. With TLS an
// observer's certificate follows the members' rules. TestObserver runs a
// 3-node cluster with an observer that follows every record, and commits
// with the observer and one voter down.
//
// Health reports each shard's leader and term as this node knows them,
// the index it applied, and a phi-accrual [coord.Detector]'s view of every
// member, fed by small UDP heartbeats sent to each member's Raft address
// port: a node cut off from the others shows as Suspected, and trusted
// again once its heartbeats return. Heartbeats are accepted only from the
// cluster's members ([Stats].HeartbeatsRefused counts the others), and the
// detector tracks at most DetectorOptions.MaxPeers nodes.
//
// # Mutual TLS
//
// With Options.TLS, nodes speak only mutual TLS (1.2 or later) to each
// other, on a transport of this package that binds a peer's identity to
// its certificate. Every node's certificate must:
//
//   - chain to the CA in CAFile, and be valid now;
//   - carry both extended key usages serverAuth and clientAuth (each node
//     accepts connections and makes them);
//   - name the host of the node's own Raft address (Addr, or
//     Members[Node]) in a DNS or IP subject alternative name; the common
//     name is not used;
//   - optionally carry the URI SAN [NodeURI](Node), "semevent:node:<id>",
//     to pin it to this node.
//
// New checks its own files first and fails at once with a *[CertError]
// (wrapping [ErrCertificate]) that names the file and the cause, instead
// of waiting StartTimeout for a quorum that such a certificate could never
// reach. A node accepts a connection only from a certificate of the CA
// that names the host of some member's address, and each Raft message or
// snapshot chunk only from a member whose host that certificate names;
// it dials a member only if the member's certificate names the member's
// host. Refusals close the connection and are counted
// ([Stats].PeersRefused). Members that share a host share an identity
// unless their certificates are pinned: a URI SAN "semevent:node:<id>"
// ([NodeURI]) makes a certificate speak only for the nodes it lists (New
// refuses a pinned certificate that does not list its own node). A node
// started with Join knows no member until the leader reaches it: until
// then it accepts any certificate of the CA, and binds identities once it
// has the membership (New reads it once the node is ready, and the
// heartbeat loop keeps it current every Heartbeat).
//
// # Concurrency
//
// All Coordinator methods may be called concurrently. Subscribe handlers
// run on their subscription's goroutine. dragonboat's loggers are global:
// [SetLogLevel] sets their level (default ERROR).
//
// # Logging
//
// Options.Logger (nil means slog.Default()) receives dragonboat's lines,
// with the attributes component=dragonboat and pkg=<dragonboat package>;
// with several Coordinators in one process they go to the oldest open
// one's Logger. Importing this package leaves the standard log package's
// flags and output as the runtime set them, although dragonboat's capnslog
// takes them over when it is initialized. Peer connection failures while
// a member dies or restarts are logged at debug level. This package
// installs dragonboat's logger factory (logger.SetLoggerFactory, which
// dragonboat allows once per process): a program that imports it must not
// install its own.
//
// # Errors
//
// Errors are coord's: coord.ErrClosed after Close (and for proposals
// interrupted by it), coord.ErrNoQuorum when a shard has no leader before
// ProposalTimeout or the caller's context ends, *coord.SizeError,
// *coord.ShardError, *coord.NodeError wrapping coord.ErrDuplicateNode,
// coord.ErrUnknownNode or, for a node started with members or a shard
// count that are not the cluster's, coord.ErrMembership (see # Starting
// with the cluster's configuration), or coord.ErrNoQuorum without a
// quorum within StartTimeout. An Append that fails part way
// returns a *coord.AppendError saying which events are known committed,
// wrapping coord.ErrOutcomeUnknown when the others may still commit;
// AppendAtomic's events in several shards are a *coord.CrossShardError
// (coord.ErrCrossShard).
// A malformed proposal or snapshot (varints must be minimal) is reported
// as an *[EncodingError]; a malformed proposal that was committed (a
// faulty peer) is applied as nothing (FuzzApply). A shard directory of
// another deployment, shard or node, or written with another shard count,
// fails New with a *[DirError] (wrapping [ErrForeignDir], and
// coord.ErrMembership for the shard count) before anything of it is read
// (TestForeignDirectoryRefused). Reads of an index this node no longer
// holds wrap coord.ErrCompacted. TLS files that cannot work are a
// *[CertError].
//
// # Testing
//
// Test code against coord.Local, which has the same semantics on one
// node. This package's own tests run real three-node clusters on
// 127.0.0.1 (mutual TLS, a TCP/UDP proxy in front of each node to isolate
// it) through the coord/coordtest conformance suite, repeated leader
// kills, isolation and restarts from disk, and check the recorded client
// history for linearizability with porcupine. SEMEVENT_SOAK=1 runs six
// times as many faults.
//
// TestProcessLeaderKills runs three node processes (the test binary
// re-executed, default Options) under four concurrent clients and SIGKILLs
// shard 0's leader 20 times (SEMEVENT_RAFT_KILLS=n, or 100 with
// SEMEVENT_SOAK=1), restarting it from its disk each time. A client whose
// append fails retries it, with the same IDs, on another node. On every
// node it checks that the logs are equal, that every acknowledged event is
// in them exactly once where it was acknowledged, that a durable consumer
// resuming from its coord.Offsets delivered every record exactly once
// across the kills, and that the history is linearizable (porcupine). It
// logs the failover time (SIGKILL to the next successful append on that
// shard) and the part of it after a new leader was known.
package raft
