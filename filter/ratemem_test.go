package filter_test

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/filter"
)

// TestRateLimitMemoryBounded is issue 18 item 19's memory bound for the
// rate limit: 500k distinct attacker keys, each with a 256-byte path, keep
// the heap under DefaultMaxKeys × rateBucketBytes, whatever the keys'
// length (the key's text is not kept).
func TestRateLimitMemoryBounded(t *testing.T) {
	const (
		keys            = 500_000
		rateBucketBytes = 160 // the per-bucket cost RateOptions.MaxKeys documents
	)
	r, err := filter.NewRateLimit(&filter.RateOptions{Rate: 1, Burst: 1, Now: func() int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	pad := "/" + strings.Repeat("x", 240) + "/"
	ev := &semevent.Event{Tenant: "attacker"}
	before := heap()
	for i := range keys {
		ev.Path = pad + strconv.Itoa(i)
		r.Match(ev)
	}
	grew := int64(heap()) - int64(before)
	limit := int64(filter.DefaultMaxKeys * rateBucketBytes)
	t.Logf("500k keys of %d bytes: heap grew %d KiB (cap %d KiB), %d buckets evicted", len(pad)+6, grew>>10, limit>>10, r.Evictions())
	if grew > limit {
		t.Errorf("heap grew %d KiB for %d keys, want at most %d KiB (DefaultMaxKeys × %d B)", grew>>10, keys, limit>>10, rateBucketBytes)
	}
	if got := r.Evictions(); got < keys-filter.DefaultMaxKeys {
		t.Errorf("Evictions() = %d, want at least %d", got, keys-filter.DefaultMaxKeys)
	}
	runtime.KeepAlive(r)
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
