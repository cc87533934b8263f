package coord_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
)

func TestSyncExchangesOnlyDifferingKeys(t *testing.T) {
	ctx := context.Background()
	a, b := coord.NewStore[*coord.GCounter](), coord.NewStore[*coord.GCounter]()
	for i := range 10000 {
		k := fmt.Sprint("key-", i)
		for _, s := range []*coord.Store[*coord.GCounter]{a, b} {
			s.Update(k, func(old *coord.GCounter, ok bool) *coord.GCounter {
				g := coord.NewGCounter()
				g.Inc(1, uint64(i)+1)
				return g
			})
		}
	}
	if a.Root() != b.Root() {
		t.Fatal("equal stores, different roots")
	}
	st, err := a.Sync(ctx, b)
	if err != nil || st.KeysDiffered != 0 || st.HashesCompared != 1 {
		t.Fatalf("Sync of equal stores = %+v, %v; want one hash compared", st, err)
	}
	inc := func(s *coord.Store[*coord.GCounter], k string, node uint64) {
		s.Update(k, func(old *coord.GCounter, ok bool) *coord.GCounter {
			if !ok {
				old = coord.NewGCounter()
			}
			old.Inc(node, 1)
			return old
		})
	}
	inc(a, "key-7", 2)
	inc(a, "key-9000", 2)
	inc(b, "key-123", 3)
	inc(b, "new-on-b", 3)
	inc(a, "new-on-a", 2)
	st, err = a.Sync(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if st.KeysDiffered != 5 || st.KeysFetched != 4 || st.KeysPushed != 5 {
		t.Errorf("Sync = %+v, want exactly the 5 differing keys exchanged", st)
	}
	if a.Root() != b.Root() {
		t.Fatal("roots differ after Sync")
	}
	t.Logf("10000 keys, 5 differing: %+v", st)
}

// TestPartitionDetectedAndStateConverges runs three replicas that count
// events in PN-counters and heartbeat each other. One is cut off: the
// others' detectors suspect it, and its updates and theirs diverge. After
// the partition heals, heartbeats clear the suspicion and anti-entropy
// makes all three equal, with no update lost.
func TestPartitionDetectedAndStateConverges(t *testing.T) {
	ctx := context.Background()
	const n = 3
	stores := make([]*coord.Store[*coord.PNCounter], n)
	dets := make([]*coord.Detector, n)
	for i := range n {
		stores[i] = coord.NewStore[*coord.PNCounter]()
		dets[i], _ = coord.NewDetector(nil)
	}
	// links[i][j] is how replica i reaches replica j.
	links := make([][]*coordtest.Link[*coord.PNCounter], n)
	for i := range n {
		links[i] = make([]*coordtest.Link[*coord.PNCounter], n)
		for j := range n {
			links[i][j] = coordtest.NewLink[*coord.PNCounter](stores[j])
		}
	}
	reachable := func(i, j int) bool { _, err := links[i][j].Hashes(ctx, 0, []int{0}); return err == nil }
	r := rand.New(rand.NewPCG(7, 8))
	want := make(map[string]int64)
	clock := time.Unix(0, 0)
	round := func() {
		clock = clock.Add(100 * time.Millisecond)
		for i := range n {
			for range 5 {
				k := fmt.Sprint("tenant-", r.IntN(20))
				d := r.Int64N(7) - 3
				want[k] += d
				stores[i].Update(k, func(old *coord.PNCounter, ok bool) *coord.PNCounter {
					if !ok {
						old = coord.NewPNCounter()
					}
					old.Add(uint64(i+1), d)
					return old
				})
			}
			for j := range n {
				if i != j && reachable(j, i) { // j hears i's heartbeat
					dets[j].Heartbeat(uint64(i+1), clock)
				}
			}
		}
		for i := range n {
			for j := range n {
				if i == j {
					continue
				}
				if _, err := stores[i].Sync(ctx, links[i][j]); err != nil && !errors.Is(err, coordtest.ErrPartitioned) {
					t.Fatal(err)
				}
			}
		}
	}
	for range 20 {
		round()
	}
	for i := range n {
		for j := range n {
			if i != j && (i == 2 || j == 2) {
				links[i][j].Cut()
			}
		}
	}
	for range 30 {
		round()
	}
	if !dets[0].Suspected(3, clock) || !dets[1].Suspected(3, clock) || dets[0].Suspected(2, clock) {
		t.Fatalf("during the partition: phi(0→3) %v, phi(1→3) %v, phi(0→2) %v",
			dets[0].Phi(3, clock), dets[1].Phi(3, clock), dets[0].Phi(2, clock))
	}
	if stores[0].Root() == stores[2].Root() {
		t.Fatal("partitioned replicas did not diverge")
	}
	for i := range n {
		for j := range n {
			links[i][j].Heal()
		}
	}
	round()
	for i := range n {
		for _, p := range dets[i].Peers(clock) {
			if p.Suspected {
				t.Fatalf("replica %d still suspects %d after healing (phi %v)", i+1, p.Node, p.Phi)
			}
		}
	}
	for i := 1; i < n; i++ {
		if stores[i].Root() != stores[0].Root() {
			t.Fatalf("replica %d did not converge", i+1)
		}
	}
	for k, v := range want {
		got, _ := stores[0].Get(k)
		if got.Value() != v {
			t.Errorf("%s = %d, want %d", k, got.Value(), v)
		}
	}
}
