package propagation_test

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/propagationtest"
)

// TestDedupMemoryBounded is issue 18 item 19's memory bound for dedup:
// 500k distinct attacker sightings that never find a twin leave at most
// DefaultMaxPending events held; the rest are released early and counted,
// and the heap the bus keeps stays under DefaultMaxPending events' worth.
func TestDedupMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("500k events")
	}
	const (
		keys          = 500_000
		perEventBytes = 1024 // a held event with its 64-byte path and the bus's bookkeeping, generously
	)
	clock := propagationtest.NewClock(epoch, false)
	b := newBus(t, &propagation.Options{Clock: clock, Dedup: &propagation.DedupOptions{Window: time.Hour}})
	var got atomic.Int64
	if _, err := b.Subscribe(semevent.HandlerFunc(func(context.Context, *semevent.Event) error {
		got.Add(1)
		return nil
	}), nil); err != nil {
		t.Fatal(err)
	}
	before := heap()
	ctx := context.Background()
	for i := range keys {
		ev := session(semevent.Kernel, "/attacker/"+strconv.Itoa(i)+"/"+"0123456789012345678901234567890123456789012345", int64(i))
		ev.Tenant = "attacker"
		if err := b.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	want := int64(keys - propagation.DefaultMaxPending)
	eventually(t, "early releases", func() bool { return got.Load() >= want })
	grew := int64(heap()) - int64(before)
	limit := int64(propagation.DefaultMaxPending * perEventBytes)
	st := b.Stats()
	t.Logf("500k unpaired sightings: %d delivered, %d evicted, heap grew %d KiB (limit %d KiB)", got.Load(), st.DedupEvicted, grew>>10, limit>>10)
	if st.DedupEvicted != uint64(want) {
		t.Errorf("Stats.DedupEvicted = %d, want %d", st.DedupEvicted, want)
	}
	if grew > limit {
		t.Errorf("heap grew %d KiB holding at most %d events, want at most %d KiB", grew>>10, propagation.DefaultMaxPending, limit>>10)
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
