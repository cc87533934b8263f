package raft

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vexfs/semevent/coord"
)

// heartbeats sends a small UDP datagram to every member every
// Options.Heartbeat, on the port of the member's Raft address, and feeds
// the ones it receives to the failure detector. A datagram (a [beat]) is
// the magic "SEhb", the deployment id, the sender's node id and a
// fingerprint of its configuration: the shard count and shard 0's voting
// members as the sender knows them. It authenticates nothing (with mutual
// TLS too), so a forged one can at worst make a dead node look alive to
// Health, or fail a fresh node's New with ErrMembership — Raft itself is
// not affected. Beats are accepted only from the shard's current members
// (refreshed every interval): others are dropped and counted
// (Stats.HeartbeatsRefused), so datagrams with random node ids do not grow
// the detector.
//
// A fresh node checks the fingerprints in New (see checkBeats): two beats
// in a row from one running node that disagree with the node's Options
// fail New with coord.ErrMembership — from any node of the deployment,
// member or not (a member list may name none of the running nodes). A
// node says it runs once its New returned and it knows shard 0's
// membership as applied (not its Options.Members). So that a node the
// running members do not know of (another member list, another address)
// hears them too, a running node answers a beat whose fingerprint differs
// from its own with its own beat, to the sender's address, at most once
// per interval per address (maxReplies addresses per interval) and never
// larger than the beat it answers.
//
// Nodes of an earlier version accept only 20-byte beats: while a cluster
// is upgraded node by node, their Health shows the upgraded nodes as
// suspected (Raft is not affected).
type heartbeats struct {
	c       *Coordinator
	conn    *net.UDPConn
	done    chan struct{}
	wg      sync.WaitGroup
	refused atomic.Uint64

	want  uint64        // the fingerprint of this node's Options
	cur   atomic.Uint64 // the fingerprint of what this node runs, refreshed every interval
	known atomic.Bool   // cur is of shard 0's applied membership
	// voters is how many members cur covers.
	voters atomic.Uint32
	ready  atomic.Bool // New has returned: the node runs
	// heard and odd are what a fresh node's New checks: whether a
	// node's beat agreed with Options, and a running node's beat that did
	// not, twice in a row.
	heard atomic.Bool
	odd   atomic.Pointer[beat]
	// strikes counts, per running node, its disagreeing beats in a row
	// (the receiver's own; at most maxSuspects nodes, then reset).
	strikes map[uint64]strike
}

// strike is a node's last disagreeing fingerprint and how many beats in a
// row carried it.
type strike struct {
	fingerprint uint64
	n           int
}

const (
	hbMagic = "SEhb"
	// beatV1Size is the datagram of older versions, without the
	// fingerprint: still accepted, never checked.
	beatV1Size = 20
	beatSize   = 33
	// maxReplies caps the addresses answered per interval.
	maxReplies = 256
	// maxSuspects caps the nodes a starting node counts strikes for.
	maxSuspects = 64
	beatReady   = 1 // flag: the sender runs (its New returned)
)

// beat is one heartbeat datagram:
//
//	"SEhb" | deployment u64 | node u64 | flags u8 | shards u16 | voters u16 | fingerprint u64
//
// big-endian; the last four fields are absent from a 20-byte beat of an
// older version (v1). Flags other than beatReady are ignored.
type beat struct {
	deployment, node uint64
	v1               bool
	ready            bool
	shards, voters   uint16
	fingerprint      uint64
}

// parseBeat decodes a datagram; ok is false for anything that is not a
// beat.
func parseBeat(b []byte) (bt beat, ok bool) {
	if len(b) != beatV1Size && len(b) != beatSize || string(b[:4]) != hbMagic {
		return beat{}, false
	}
	bt.deployment = binary.BigEndian.Uint64(b[4:])
	bt.node = binary.BigEndian.Uint64(b[12:])
	if len(b) == beatV1Size {
		bt.v1 = true
		return bt, true
	}
	bt.ready = b[20]&beatReady != 0
	bt.shards = binary.BigEndian.Uint16(b[21:])
	bt.voters = binary.BigEndian.Uint16(b[23:])
	bt.fingerprint = binary.BigEndian.Uint64(b[25:])
	return bt, true
}

func (bt beat) append(b []byte) []byte {
	b = append(b, hbMagic...)
	b = binary.BigEndian.AppendUint64(b, bt.deployment)
	b = binary.BigEndian.AppendUint64(b, bt.node)
	if bt.v1 {
		return b
	}
	var flags byte
	if bt.ready {
		flags |= beatReady
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, bt.shards)
	b = binary.BigEndian.AppendUint16(b, bt.voters)
	return binary.BigEndian.AppendUint64(b, bt.fingerprint)
}

// fingerprint hashes a shard count and a voting membership (FNV-1a over
// the shard count and the members sorted by id, each "id=address").
func fingerprint(shards int, members map[uint64]string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "shards=%d", shards)
	for _, id := range slices.Sorted(maps.Keys(members)) {
		fmt.Fprintf(h, ";%d=%s", id, members[id])
	}
	return h.Sum64()
}

func startHeartbeats(c *Coordinator) (*heartbeats, error) {
	addr := c.opts.ListenAddr
	if addr == "" {
		addr = c.opts.Addr
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, err
	}
	h := &heartbeats{c: c, conn: conn, done: make(chan struct{}), want: fingerprint(c.opts.Shards, c.opts.Members)}
	h.refresh()
	h.wg.Add(2)
	go h.send()
	go h.receive()
	return h, nil
}

// refresh takes the fingerprint of the membership as this node knows it
// now.
func (h *heartbeats) refresh() {
	m, known := h.c.shardMembersKnown()
	h.cur.Store(fingerprint(h.c.opts.Shards, m))
	h.voters.Store(uint32(min(len(m), 1<<16-1)))
	h.known.Store(known)
}

// own returns this node's beat as it stands.
func (h *heartbeats) own() beat {
	return beat{
		deployment:  h.c.opts.DeploymentID,
		node:        h.c.opts.Node,
		ready:       h.ready.Load() && h.known.Load(),
		shards:      uint16(min(h.c.opts.Shards, 1<<16-1)),
		voters:      uint16(h.voters.Load()),
		fingerprint: h.cur.Load(),
	}
}

func (h *heartbeats) send() {
	defer h.wg.Done()
	t := time.NewTicker(h.c.opts.Heartbeat)
	defer t.Stop()
	resolved := make(map[string]*net.UDPAddr)
	msg := make([]byte, 0, beatSize)
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		h.refresh()
		msg = h.own().append(msg[:0])
		peers := h.peers()
		h.c.members.set(peers)
		for id, a := range peers {
			if id == h.c.opts.Node {
				continue
			}
			ua := resolved[a]
			if ua == nil {
				var err error
				if ua, err = net.ResolveUDPAddr("udp", a); err != nil {
					continue
				}
				resolved[a] = ua
			}
			h.conn.WriteToUDP(msg, ua) // best effort: a lost beat is what the detector measures
		}
	}
}

// peers returns the members and observers of shard 0 as this node knows
// them.
func (h *heartbeats) peers() map[uint64]string {
	m := h.c.shardMembers()
	obs := h.c.obs.addrs(0)
	if len(obs) == 0 {
		return m
	}
	all := maps.Clone(m)
	maps.Copy(all, obs)
	return all
}

func (h *heartbeats) receive() {
	defer h.wg.Done()
	buf := make([]byte, 64)
	reply := make([]byte, 0, beatSize)
	replied := make(map[string]struct{})
	repliedSince := time.Now()
	for {
		n, from, err := h.conn.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-h.done:
				return
			default:
				continue
			}
		}
		bt, ok := parseBeat(buf[:n])
		if !ok || bt.deployment != h.c.opts.DeploymentID || bt.node == h.c.opts.Node {
			continue
		}
		if !bt.v1 && h.ready.Load() && bt.fingerprint != h.cur.Load() {
			if now := time.Now(); now.Sub(repliedSince) >= h.c.opts.Heartbeat {
				clear(replied)
				repliedSince = now
			}
			if _, done := replied[from.String()]; !done && len(replied) < maxReplies {
				replied[from.String()] = struct{}{}
				reply = h.own().append(reply[:0])
				h.conn.WriteToUDP(reply, from)
			}
		}
		if !bt.v1 && !h.ready.Load() {
			h.check(bt)
		}
		if _, ok := h.c.members.get()[bt.node]; !ok {
			h.refused.Add(1)
			continue
		}
		h.c.det.Heartbeat(bt.node, time.Now())
	}
}

// check weighs a beat against this starting node's Options: one that
// agrees is heard; a running node's that disagrees twice in a row (the
// same node, the same fingerprint) is odd.
func (h *heartbeats) check(bt beat) {
	if h.strikes == nil || len(h.strikes) >= maxSuspects {
		h.strikes = make(map[uint64]strike)
	}
	switch {
	case bt.fingerprint == h.want:
		h.heard.Store(true)
		delete(h.strikes, bt.node)
	case bt.ready:
		st := h.strikes[bt.node]
		if st.fingerprint != bt.fingerprint {
			st = strike{fingerprint: bt.fingerprint}
		}
		st.n++
		h.strikes[bt.node] = st
		if st.n >= 2 {
			h.odd.CompareAndSwap(nil, &bt)
		}
	}
}

// checkBeats is what a fresh node's New asks of the heartbeats: an error
// wrapping coord.ErrMembership once a running node's beats disagree with
// Options (another shard count or member list), and whether a node's
// beat has agreed.
func (h *heartbeats) checkBeats() (agreed bool, err error) {
	if bt := h.odd.Load(); bt != nil {
		return false, fmt.Errorf("%w: node %d runs %d shards with %d members (fingerprint %016x), this node was started with Shards %d and Members %v (fingerprint %016x)",
			coord.ErrMembership, bt.node, bt.shards, bt.voters, bt.fingerprint, h.c.opts.Shards, h.c.opts.Members, h.want)
	}
	return h.heard.Load(), nil
}

func (h *heartbeats) close() {
	close(h.done)
	h.conn.Close()
	h.wg.Wait()
}
