package raft

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4/config"
	"github.com/lni/dragonboat/v4/raftio"
	pb "github.com/lni/dragonboat/v4/raftpb"
)

// memberSet is the cluster's membership as this node knows it (node id →
// Raft address): Members at start, then refreshed from the shard's
// membership by the heartbeat loop and by AddNode/RemoveNode. Readers see
// an immutable map.
type memberSet struct {
	p atomic.Pointer[map[uint64]string]
}

func newMemberSet(m map[uint64]string) *memberSet {
	s := &memberSet{}
	s.set(m)
	return s
}

func (s *memberSet) get() map[uint64]string { return *s.p.Load() }
func (s *memberSet) set(m map[uint64]string) {
	c := maps.Clone(m)
	if c == nil {
		c = map[uint64]string{}
	}
	s.p.Store(&c)
}

// update applies one change: addr "" removes id.
func (s *memberSet) update(id uint64, addr string) {
	m := maps.Clone(s.get())
	if addr == "" {
		delete(m, id)
	} else {
		m[id] = addr
	}
	s.p.Store(&m)
}

// peerTransport is the Raft transport between nodes: dragonboat's
// messages and snapshot chunks as length-prefixed frames over TCP, with
// mutual TLS when Options.TLS is set (id != nil).
//
// Every message batch names its sender's Raft address (SourceAddress),
// which dragonboat records for each sender; an address that is not a
// host:port, or that differs from the address of a member the batch
// speaks for, made dragonboat panic (a node restarted on another address
// crashed the members it wrote to). Such a batch is dropped here and
// counted (Stats.PeersRefused).
//
// With TLS, the peer's identity is bound to its certificate. A connection
// is accepted only from a certificate of the cluster CA that names (by a
// DNS or IP SAN) the host of some member's address, and every message and
// chunk on it must come from (From) a member whose host the certificate
// names; anything else closes the connection and is counted
// (Stats.PeersRefused). When dialling a member, the member's certificate
// must name the host of its address.
//
// Members that share a host share an identity unless their certificates
// carry node URIs (see NodeURI); a pinned member's certificate must also
// name a member at the address dialled.
type peerTransport struct {
	self    uint64
	id      *tlsIdentity
	listen  string
	members *memberSet
	deploy  uint64
	handler raftio.MessageHandler
	chunks  raftio.ChunkHandler
	refused *atomic.Uint64
	log     *slog.Logger
	now     func() time.Time // the clock of redial pauses; nil is time.Now
	idle    time.Duration    // peerIdle when 0
	// dialConnHook, in tests, runs before each dial with its context.
	dialConnHook func(ctx context.Context)
	ln           net.Listener
	mu           sync.Mutex // guards conns and closed
	conns        map[net.Conn]struct{}
	closed       bool
	wg           sync.WaitGroup
	dialTime     time.Duration
}

// peerFactory makes the peerTransport for dragonboat's NodeHost; id is
// nil without TLS.
type peerFactory struct {
	self    uint64
	id      *tlsIdentity
	listen  string
	members *memberSet
	refused *atomic.Uint64
	log     *slog.Logger
}

func (f *peerFactory) Create(nhc config.NodeHostConfig, h raftio.MessageHandler, ch raftio.ChunkHandler) raftio.ITransport {
	return &peerTransport{self: f.self, id: f.id, listen: f.listen, members: f.members, deploy: nhc.DeploymentID, handler: h, chunks: ch,
		refused: f.refused, log: f.log, conns: make(map[net.Conn]struct{}), dialTime: 5 * time.Second}
}

func (f *peerFactory) Validate(addr string) bool { return validAddr(addr) }

const (
	frameBatch = 1
	frameChunk = 2
	// Checked frames (plain TCP, which has no MAC) start their payload
	// with the CRC-32C of the rest, big-endian; TLS frames need none.
	frameBatchChecked = 3
	frameChunkChecked = 4
	// maxFrame bounds one message batch or chunk (dragonboat's batches
	// stay under 64 MiB, its chunks at 2 MiB).
	maxFrame = 128 << 20
)

var errPeerIdentity = errors.New("raft: peer certificate does not name the member it speaks for")

func (t *peerTransport) Name() string {
	if t.id == nil {
		return "semevent-tcp"
	}
	return "semevent-mtls"
}

func (t *peerTransport) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{t.id.cert},
		ClientCAs:    t.id.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				t.refused.Add(1)
				return errPeerIdentity
			}
			if t.learning() {
				return nil
			}
			if len(names(cs.PeerCertificates[0], t.members.get())) == 0 {
				t.refused.Add(1)
				return errPeerIdentity
			}
			return nil
		},
	}
}

func (t *peerTransport) Start() error {
	var ln net.Listener
	var err error
	if t.id == nil {
		ln, err = net.Listen("tcp", t.listen)
	} else {
		ln, err = tls.Listen("tcp", t.listen, t.serverConfig())
	}
	if err != nil {
		return err
	}
	t.ln = ln
	t.wg.Add(1)
	go t.accept()
	return nil
}

func (t *peerTransport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		if !t.track(c) {
			c.Close()
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.serve(c)
			t.untrack(c)
		}()
	}
}

func (t *peerTransport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *peerTransport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// serve reads frames from one peer until it fails, refusing (with TLS)
// any message or chunk the peer's certificate does not speak for, and
// dropping batches whose source address disagrees with the membership.
func (t *peerTransport) serve(c net.Conn) {
	speaksFor := func(uint64) bool { return true }
	if tc, ok := c.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(t.dialTime))
		if err := tc.Handshake(); err != nil {
			return
		}
		tc.SetDeadline(time.Time{})
		leaf := tc.ConnectionState().PeerCertificates[0]
		allowed := names(leaf, t.members.get())
		speaksFor = func(from uint64) bool {
			if !allowed[from] {
				allowed = names(leaf, t.members.get()) // membership may have grown
			}
			if !allowed[from] && t.learning() {
				return true
			}
			if !allowed[from] {
				t.refused.Add(1)
				return false
			}
			return true
		}
	}
	readFrames(idleReader{c, t.idleTimeout()}, func(kind byte, p []byte) bool {
		b, ch, err := decodeFrame(kind, p)
		switch {
		case err != nil:
			return false
		case b != nil:
			for i := range b.Requests {
				if !speaksFor(b.Requests[i].From) {
					return false
				}
			}
			if t.sourceOK(b) {
				t.handler(*b)
			}
			return true
		default:
			return speaksFor(ch.From) && t.chunks(*ch)
		}
	})
}

// sourceOK reports whether b's source address is one dragonboat can
// record for every sender in it: a host:port, and the address of each
// sender this node knows as a member or observer. Anything else is
// counted and logged (the first time, then at every power of two).
func (t *peerTransport) sourceOK(b *pb.MessageBatch) bool {
	if b.SourceAddress == "" {
		return true
	}
	members := t.members.get()
	for i := range b.Requests {
		from := b.Requests[i].From
		if from == 0 {
			continue
		}
		known, ok := members[from]
		if validAddr(b.SourceAddress) && (!ok || known == b.SourceAddress) {
			continue
		}
		if n := t.refused.Add(1); n&(n-1) == 0 && t.log != nil {
			t.log.Warn("raft: message batch dropped: its source address is not the sender's member address",
				"from", from, "source", b.SourceAddress, "member_address", known, "refused", n)
		}
		return false
	}
	return true
}

// peerIdle is how long a peer's connection may stay silent before it is
// closed: a follower may send another nothing for long, and it dials
// again at its next message; a connection that never sends holds no
// goroutine for ever.
const peerIdle = 5 * time.Minute

func (t *peerTransport) idleTimeout() time.Duration {
	if t.idle > 0 {
		return t.idle
	}
	return peerIdle
}

// idleReader sets the read deadline before every read.
type idleReader struct {
	c    net.Conn
	idle time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	r.c.SetReadDeadline(time.Now().Add(r.idle))
	return r.c.Read(p)
}

func validAddr(addr string) bool {
	_, _, err := net.SplitHostPort(addr)
	return err == nil
}

var errBadFrame = errors.New("raft: bad transport frame")

// decodeFrame decodes one frame's payload: a message batch or a snapshot
// chunk. A payload the decoder chokes on (even by panicking) is an error.
func decodeFrame(kind byte, p []byte) (b *pb.MessageBatch, ch *pb.Chunk, err error) {
	defer func() {
		if recover() != nil {
			b, ch, err = nil, nil, errBadFrame
		}
	}()
	if kind == frameBatchChecked || kind == frameChunkChecked {
		if len(p) < 4 || binary.BigEndian.Uint32(p) != crc32.Checksum(p[4:], castagnoli) {
			return nil, nil, fmt.Errorf("%w: checksum mismatch", errBadFrame)
		}
		kind, p = kind-2, p[4:]
	}
	switch kind {
	case frameBatch:
		b = &pb.MessageBatch{}
		if err := b.Unmarshal(p); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errBadFrame, err)
		}
		return b, nil, nil
	case frameChunk:
		ch = &pb.Chunk{}
		if err := ch.Unmarshal(p); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errBadFrame, err)
		}
		return nil, ch, nil
	}
	return nil, nil, fmt.Errorf("%w: kind %d", errBadFrame, kind)
}

// readFrames reads frames (a kind byte, a big-endian uint32 length, the
// payload) from r and passes each to fn until r fails, a frame is empty
// or larger than maxFrame, or fn returns false. fn must not keep p.
func readFrames(r io.Reader, fn func(kind byte, p []byte) bool) {
	br := bufio.NewReaderSize(r, 64<<10)
	var hdr [5]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[1:])
		if n == 0 || n > maxFrame {
			return
		}
		var p []byte
		if n <= 4<<20 {
			if uint32(cap(buf)) < n {
				buf = make([]byte, n)
			}
			p = buf[:n]
		} else {
			p = make([]byte, n) // a large one-off: not kept
		}
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		if !fn(hdr[0], p) {
			return
		}
	}
}

// learning reports whether this node does not know any other member yet:
// a node started with Join learns the membership from the leader, which
// it must accept first (any certificate of the cluster CA). Identities are
// bound as soon as the membership is known (the heartbeat loop refreshes
// it every Heartbeat).
func (t *peerTransport) learning() bool {
	for id := range t.members.get() {
		if id != t.self {
			return false
		}
	}
	return true
}

func (t *peerTransport) Close() error {
	t.mu.Lock()
	t.closed = true
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	var err error
	if t.ln != nil {
		err = t.ln.Close()
	}
	t.wg.Wait()
	return err
}

// dial returns a connection to target (with TLS, checking that its
// certificate names target's host). A lossy one (Raft messages) never
// fails for want of the peer: see peerConn.
func (t *peerTransport) dial(ctx context.Context, target string, lossy bool) (*peerConn, error) {
	c := &peerConn{t: t, ctx: ctx, target: target, lossy: lossy}
	nc, err := t.dialConn(ctx, target)
	if err != nil {
		if !lossy {
			return nil, err
		}
		c.mu.Lock()
		c.failed(c.now())
		c.unreachable(err)
		c.mu.Unlock()
		return c, nil
	}
	c.use(nc)
	return c, nil
}

func (t *peerTransport) dialConn(ctx context.Context, target string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return nil, err
	}
	if t.dialConnHook != nil {
		t.dialConnHook(ctx)
	}
	var c net.Conn
	if t.id == nil {
		d := net.Dialer{Timeout: t.dialTime}
		c, err = d.DialContext(ctx, "tcp", target)
	} else {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: t.dialTime}, Config: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			ServerName:   host,
			RootCAs:      t.id.pool,
			Certificates: []tls.Certificate{t.id.cert},
			VerifyConnection: func(cs tls.ConnectionState) error {
				if t.members == nil || len(cs.PeerCertificates) == 0 || t.learning() {
					return nil
				}
				leaf := cs.PeerCertificates[0]
				if _, pinned := nodeURIs(leaf); !pinned {
					return nil // the host check (ServerName) is the identity
				}
				members := t.members.get()
				for id := range names(leaf, members) {
					if members[id] == target {
						return nil
					}
				}
				return fmt.Errorf("%w: %s's certificate is pinned to other nodes", errPeerIdentity, target)
			},
		}}
		c, err = d.DialContext(ctx, "tcp", target)
	}
	if err != nil {
		return nil, fmt.Errorf("raft: dial %s: %w", target, err)
	}
	return c, nil
}

func (t *peerTransport) GetConnection(ctx context.Context, target string) (raftio.IConnection, error) {
	return t.dial(ctx, target, true)
}

func (t *peerTransport) GetSnapshotConnection(ctx context.Context, target string) (raftio.ISnapshotConnection, error) {
	return t.dial(ctx, target, false)
}

// peerConn sends frames to one peer.
//
// dragonboat marks a peer unreachable when a send to it fails, and then
// drops everything for it until its circuit breaker lets it dial again,
// 0.25-1.5 s later. A peer that died and restarted in the meantime was
// therefore cut off for up to 1.5 s after it came back, and an election
// that needed its vote waited as long: 4 to 11 of 20 elections in
// TestProcessLeaderKills took 0.5-1.8 s instead of ~0.15 s. So a peerConn
// for Raft messages is lossy, as the network is to Raft: a send to a peer
// that cannot be reached drops the batch and succeeds (Raft retransmits),
// logging at debug level once per outage, and the next send dials again,
// so messages flow as soon as the peer answers. Snapshot connections
// still fail, and are never dialled again: a send on a dead one fails, so
// that dragonboat reports the transfer failed (a receiver that refuses a
// chunk closes the connection) and starts another.
//
// On plain TCP every frame carries a CRC-32C of its payload, checked by
// the receiver, which closes the connection on a mismatch (dragonboat's
// own TCP transport checked one too); TLS authenticates its records.
//
// A Raft message peerConn also watches its connection (peers never write back, so a
// read ends only when the connection does) and dials again before
// sending on a dead one, or once after a write fails, sending the same
// frame on the new one: a connection to a peer that restarted looks fine
// until written to, and its first write was lost or failed. A connection
// that lived a second or more is dialled again at once; after a failed
// dial, or a connection its peer closed sooner (a peer refusing this
// node's certificate closes every connection at once), dials pause
// 10 ms, doubling up to 100 ms while they go on failing, and batches are
// dropped meanwhile.
type peerConn struct {
	t      *peerTransport
	ctx    context.Context // dragonboat's: ends when its transport closes
	target string
	lossy  bool
	mu     sync.Mutex // guards buf, down, pause, next and writes
	c      atomic.Pointer[liveConn]
	closed atomic.Bool
	buf    []byte
	down   bool          // the last send could not reach the peer
	pause  time.Duration // between dials while they fail
	next   time.Time     // no dial before
}

// Redial pauses.
const (
	minRedialPause = 10 * time.Millisecond
	maxRedialPause = 100 * time.Millisecond
	longLived      = time.Second
)

var errRedialPause = errors.New("raft: peer unreachable: dial paused")

// liveConn is a connection, when it was dialled and whether its peer has
// closed it.
type liveConn struct {
	net.Conn
	since time.Time
	dead  atomic.Bool
}

func (c *peerConn) now() time.Time {
	if c.t.now != nil {
		return c.t.now()
	}
	return time.Now()
}

// use makes nc the connection frames go to and watches it.
func (c *peerConn) use(nc net.Conn) {
	lc := &liveConn{Conn: nc, since: c.now()}
	c.c.Store(lc)
	go func() {
		io.Copy(io.Discard, nc)
		lc.dead.Store(true)
	}()
	if c.closed.Load() {
		nc.Close() // Close raced the dial
	}
}

// failed pauses dials after a failure; c.mu is held.
func (c *peerConn) failed(now time.Time) {
	c.pause = min(max(2*c.pause, minRedialPause), maxRedialPause)
	c.next = now.Add(c.pause)
}

// redial replaces the connection; c.mu is held.
func (c *peerConn) redial() error {
	now := c.now()
	if lc := c.c.Load(); lc != nil {
		lc.Close()
		c.c.Store(nil)
		if c.lossy && now.Sub(lc.since) < longLived {
			c.failed(now)
		} else {
			c.pause, c.next = 0, time.Time{}
		}
	}
	if c.closed.Load() {
		return net.ErrClosed
	}
	if c.lossy && now.Before(c.next) {
		return errRedialPause
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.t.dialTime)
	defer cancel()
	nc, err := c.t.dialConn(ctx, c.target)
	if err != nil {
		c.failed(c.now())
		return err
	}
	c.use(nc)
	return nil
}

// unreachable is what a send that could not reach the peer returns: err,
// or nil for a lossy connection (the batch is dropped). c.mu is held.
func (c *peerConn) unreachable(err error) error {
	if c.closed.Load() {
		return net.ErrClosed
	}
	if !c.lossy {
		return err
	}
	if !c.down && c.t.log != nil {
		c.t.log.Debug("raft: peer unreachable: its messages are dropped until it answers", "peer", c.target, "err", err)
	}
	c.down = true
	return nil
}

type marshaler interface {
	Size() int
	MarshalTo([]byte) (int, error)
}

func (c *peerConn) send(kind byte, m marshaler) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, head := m.Size(), 5
	if c.t.id == nil {
		kind, head = kind+2, 9 // checked: a CRC-32C before the payload
	}
	if head-5+n > maxFrame {
		return fmt.Errorf("raft: message of %d bytes exceeds %d", n, maxFrame)
	}
	if cap(c.buf) < head+n {
		c.buf = make([]byte, head+n)
	}
	b := c.buf[:head+n]
	b[0] = kind
	binary.BigEndian.PutUint32(b[1:], uint32(head-5+n))
	if _, err := m.MarshalTo(b[head:]); err != nil {
		return err
	}
	if head > 5 {
		binary.BigEndian.PutUint32(b[5:], crc32.Checksum(b[head:], castagnoli))
	}
	defer func() {
		if cap(c.buf) > 4<<20 {
			c.buf = nil // do not keep a large one-off buffer
		}
	}()
	if !c.lossy {
		// A snapshot connection fails as it is, so that dragonboat reports
		// the transfer failed (a receiver refusing a chunk closes it).
		if lc := c.c.Load(); lc == nil || lc.dead.Load() {
			return fmt.Errorf("raft: snapshot connection to %s: %w", c.target, net.ErrClosed)
		}
		return c.write(b)
	}
	if lc := c.c.Load(); lc == nil || lc.dead.Load() {
		if err := c.redial(); err != nil {
			return c.unreachable(err)
		}
	}
	if err := c.write(b); err != nil {
		if err := c.redial(); err != nil {
			return c.unreachable(err)
		}
		if err := c.write(b); err != nil {
			return c.unreachable(err)
		}
	}
	if c.down && c.t.log != nil {
		c.t.log.Debug("raft: peer reachable again", "peer", c.target)
	}
	c.down = false
	return nil
}

func (c *peerConn) write(b []byte) error {
	lc := c.c.Load()
	lc.SetWriteDeadline(time.Now().Add(15 * time.Second))
	_, err := lc.Write(b)
	return err
}

func (c *peerConn) SendMessageBatch(b pb.MessageBatch) error { return c.send(frameBatch, &b) }
func (c *peerConn) SendChunk(ch pb.Chunk) error              { return c.send(frameChunk, &ch) }
func (c *peerConn) Close() {
	c.closed.Store(true)
	if lc := c.c.Load(); lc != nil {
		lc.Close()
	}
}
