package raft

import (
	"encoding/binary"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// heartbeats sends a small UDP datagram to every member every
// Options.Heartbeat, on the port of the member's Raft address, and feeds
// the ones it receives to the failure detector. A datagram is the magic
// "SEhb", the deployment id and the sender's node id; it authenticates
// nothing (with mutual TLS too), so a forged one can at worst make a dead
// node look alive to Health — Raft itself is not affected. Beats are
// accepted only from the shard's current members (refreshed every
// interval): others are dropped and counted (Stats.HeartbeatsRefused), so
// datagrams with random node ids do not grow the detector.
type heartbeats struct {
	c       *Coordinator
	conn    *net.UDPConn
	done    chan struct{}
	wg      sync.WaitGroup
	refused atomic.Uint64
}

const hbMagic = "SEhb"

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
	h := &heartbeats{c: c, conn: conn, done: make(chan struct{})}
	h.wg.Add(2)
	go h.send()
	go h.receive()
	return h, nil
}

func (h *heartbeats) send() {
	defer h.wg.Done()
	var msg [20]byte
	copy(msg[:], hbMagic)
	binary.BigEndian.PutUint64(msg[4:], h.c.opts.DeploymentID)
	binary.BigEndian.PutUint64(msg[12:], h.c.opts.Node)
	t := time.NewTicker(h.c.opts.Heartbeat)
	defer t.Stop()
	resolved := make(map[string]*net.UDPAddr)
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
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
			h.conn.WriteToUDP(msg[:], ua) // best effort: a lost beat is what the detector measures
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
	for {
		n, _, err := h.conn.ReadFromUDP(buf)
		if err != nil {
			select {
			case <-h.done:
				return
			default:
				continue
			}
		}
		if n != 20 || string(buf[:4]) != hbMagic || binary.BigEndian.Uint64(buf[4:]) != h.c.opts.DeploymentID {
			continue
		}
		id := binary.BigEndian.Uint64(buf[12:])
		if _, ok := h.c.members.get()[id]; !ok {
			h.refused.Add(1)
			continue
		}
		h.c.det.Heartbeat(id, time.Now())
	}
}

func (h *heartbeats) close() {
	close(h.done)
	h.conn.Close()
	h.wg.Wait()
}
