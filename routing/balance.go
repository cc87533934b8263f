package routing

import (
	"sort"
	"unsafe"

	"github.com/vexfs/semevent"
)

// pick chooses the member of g that receives ev.
func (c *compiled) pick(g *cgroup, ev *semevent.Event) int32 {
	switch g.strategy {
	case Hash:
		h := g.key(ev).Hash()
		i := sort.Search(len(g.ring), func(i int) bool { return g.ring[i].hash >= h })
		if i == len(g.ring) {
			i = 0
		}
		return g.ring[i].member
	case LeastLoaded:
		best, bestLoad := g.members[0], int64(1<<63-1)
		for _, m := range g.members {
			var l int64
			if c.loadFn != nil {
				l = c.loadFn(c.dests[m])
			} else {
				l = c.load[m].Load()
			}
			if l < bestLoad {
				best, bestLoad = m, l
			}
		}
		if c.loadFn == nil {
			c.load[best].Add(1)
		}
		return best
	default:
		n := g.rr.Add(1) - 1
		return g.members[n%uint64(len(g.members))]
	}
}

func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
