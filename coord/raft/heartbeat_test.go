package raft

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// Issue 18 item 19: unauthenticated UDP heartbeats with random node ids
// grew the failure detector without bound. Beats are accepted only from
// members: 200k forged ones leave it tracking the members alone.
func TestHeartbeatsOnlyFromMembers(t *testing.T) {
	cl := newCluster(t, clusterConfig{nodes: 1})
	c := cl.node(0)
	addr, err := net.ResolveUDPAddr("udp", c.opts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := rand.New(rand.NewPCG(3, 4))
	var msg [20]byte
	copy(msg[:], hbMagic)
	binary.BigEndian.PutUint64(msg[4:], c.opts.DeploymentID)
	const n = 200_000
	for i := range n {
		binary.BigEndian.PutUint64(msg[12:], r.Uint64()|1<<40)
		conn.Write(msg[:])
		if i%1000 == 999 {
			time.Sleep(time.Millisecond) // let the receiver keep up: UDP drops what overflows its buffer
		}
	}
	// A member's beat still counts: the node itself is the only member.
	for deadline := time.Now().Add(10 * time.Second); c.Stats().HeartbeatsRefused < n/10 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.Stats().HeartbeatsRefused; got < n/10 {
		t.Fatalf("HeartbeatsRefused = %d after %d forged beats, want at least a tenth (UDP drops the rest under load)", got, n)
	}
	if peers := c.det.Peers(time.Now()); len(peers) > len(c.opts.Members) {
		t.Fatalf("detector tracks %d nodes after %d forged beats, want at most the %d members", len(peers), n, len(c.opts.Members))
	}
}
