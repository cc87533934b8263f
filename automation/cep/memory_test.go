package cep_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation/cep"
)

// BytesPerKey is the documented bound on the heap one key of one pattern
// holds with at most a few partials (see the package documentation).
const bytesPerKey = 400

// TestCEPMemoryCappedByMaxKeys is issue 18 item 19: a Count pattern keyed
// by path, fed 500k distinct attacker-chosen paths within its window,
// holds at most MaxKeys keys, counts the evictions, and its heap stays
// under MaxKeys × bytesPerKey. (Before the cap: no bound, and 500k paths
// held ~0.2 GiB.)
func TestCEPMemoryCappedByMaxKeys(t *testing.T) {
	n := 500_000
	if testing.Short() || raceEnabled {
		n = 200_000 // still 3× MaxKeys; the race detector makes 500k slow
	}
	if v := os.Getenv("SEMEVENT_CEP_KEYS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	e, err := cep.New([]cep.Pattern{
		&cep.Count{Name: "hot-file", Stage: cep.Stage{Kind: semevent.KindFileWrite}, Min: 3, Within: time.Hour},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := semevent.Now()
	before := heapInUse()
	ev := &semevent.Event{Kind: semevent.KindFileWrite, Tenant: "mallory"}
	for i := range n {
		ev.ID = semevent.MakeID(uint64(i+1), 0, 0)
		ev.Path = "/attacker/chosen/path/" + strconv.Itoa(i)
		ev.Time = t0 + int64(i)
		if err := e.Handle(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	used := int64(heapInUse()) - int64(before)
	st := e.Stats()
	limit := int64(cep.DefaultMaxKeys) * bytesPerKey
	t.Logf("%d distinct keys: heap +%.1f MiB (%.0f B per retained key), %d partials, %d keys evicted; documented cap %.1f MiB",
		n, float64(used)/(1<<20), float64(used)/float64(min(n, cep.DefaultMaxKeys)), st.Partials, st.KeysEvicted, float64(limit)/(1<<20))
	if n > cep.DefaultMaxKeys {
		if want := uint64(n - cep.DefaultMaxKeys); st.KeysEvicted != want {
			t.Errorf("KeysEvicted = %d, want %d", st.KeysEvicted, want)
		}
	}
	if st.Partials > cep.DefaultMaxKeys {
		t.Errorf("Partials = %d, want <= MaxKeys %d", st.Partials, cep.DefaultMaxKeys)
	}
	if used > limit {
		t.Errorf("heap grew by %d bytes, over the documented cap of %d (MaxKeys %d × %d B)", used, limit, cep.DefaultMaxKeys, bytesPerKey)
	}
	runtime.KeepAlive(e)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
