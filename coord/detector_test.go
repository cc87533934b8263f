package coord_test

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/vexfs/semevent/coord"
)

func TestDetectorSuspectsSilentPeerAndTrustsItAgain(t *testing.T) {
	d, err := coord.NewDetector(&coord.DetectorOptions{MinStdDev: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	now := t0
	for i := range 50 {
		now = t0.Add(time.Duration(i) * 100 * time.Millisecond)
		d.Heartbeat(1, now)
		d.Heartbeat(2, now)
	}
	if d.Suspected(1, now.Add(100*time.Millisecond)) {
		t.Fatalf("peer suspected on time: phi %v", d.Phi(1, now.Add(100*time.Millisecond)))
	}
	// Peer 2 is partitioned away: only peer 1 keeps beating.
	var phis []float64
	for i := 1; i <= 20; i++ {
		now = now.Add(100 * time.Millisecond)
		d.Heartbeat(1, now)
		phis = append(phis, d.Phi(2, now))
	}
	for i := 1; i < len(phis); i++ {
		if phis[i] < phis[i-1] {
			t.Fatalf("phi fell while silent: %v", phis)
		}
	}
	if !d.Suspected(2, now) || d.Suspected(1, now) {
		t.Fatalf("after 2s of silence: peer 1 phi %v, peer 2 phi %v", d.Phi(1, now), d.Phi(2, now))
	}
	ph := d.Peers(now)
	if len(ph) != 2 || ph[0].Node != 1 || ph[0].Suspected || !ph[1].Suspected {
		t.Fatalf("Peers = %+v", ph)
	}
	// The partition heals.
	d.Heartbeat(2, now)
	if d.Suspected(2, now.Add(50*time.Millisecond)) {
		t.Fatal("peer still suspected after a heartbeat")
	}
	d.Forget(2)
	if d.Phi(2, now.Add(time.Hour)) != 0 {
		t.Fatal("forgotten peer has a phi")
	}
	d.Watch(3, now) // never beats
	if !d.Suspected(3, now.Add(time.Minute)) {
		t.Fatal("watched silent peer not suspected")
	}
}

// Issue 18 item 19: heartbeats with random node ids grew the detector
// without bound (200k datagrams used 19 MiB). 500k distinct ids leave it
// at MaxPeers, the rest refused and counted, the heap bounded.
func TestDetectorBoundsPeers(t *testing.T) {
	d, err := coord.NewDetector(&coord.DetectorOptions{MaxPeers: 64})
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Unix(1000, 0)
	const n = 500_000
	for i := range n {
		d.Heartbeat(r.Uint64(), now.Add(time.Duration(i)))
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(before)
	if got := len(d.Peers(now)); got != 64 {
		t.Fatalf("tracking %d peers, want MaxPeers = 64", got)
	}
	if d.Refused() != n-64 {
		t.Fatalf("Refused = %d, want %d", d.Refused(), n-64)
	}
	if grew > 1<<20 {
		t.Fatalf("heap grew %d bytes, want under 1 MiB", grew)
	}
	if err := (&coord.DetectorOptions{MaxPeers: -1}).Validate(); err == nil {
		t.Fatal("MaxPeers -1 validated")
	}
}
