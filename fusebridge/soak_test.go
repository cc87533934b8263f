package fusebridge_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/vexfs/semevent/fusebridge"
)

// TestSoak repeats the tree and writers workloads with fresh mounts,
// checking exact dedup each time. It runs only when FUSEBRIDGE_SOAK names
// the number of rounds (e.g. FUSEBRIDGE_SOAK=50).
func TestSoak(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("FUSEBRIDGE_SOAK"))
	if rounds <= 0 {
		t.Skip("set FUSEBRIDGE_SOAK=<rounds> to run the soak")
	}
	for i := range rounds {
		for _, name := range []string{"tree", "writers"} {
			t.Run(name+"/"+strconv.Itoa(i), func(t *testing.T) {
				r := newRig(t, nil, &fusebridge.WatcherOptions{})
				pid := runWorkload(t, r, name)
				evs := r.events(t)
				truth := newTruth()
				workloads[name](truth)
				compare(t, evs, truth.ops, true)
				checkPIDs(t, evs, pid)
				checkKernelOnly(t, evs, 0)
			})
		}
	}
}
