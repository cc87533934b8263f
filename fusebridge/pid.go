package fusebridge

import (
	"bytes"
	"os"
	"strconv"
	"sync"
)

// pidCache maps the thread ids that FUSE reports as the caller to process
// ids (the Tgid line of /proc/<tid>/status). Thread ids are recycled, but
// rarely within the life of the cache, which is cleared when it grows past
// maxPIDs.
type pidCache struct {
	mu sync.RWMutex // guards m
	m  map[uint32]uint32
}

const maxPIDs = 4096

func (c *pidCache) tgid(tid uint32) uint32 {
	if tid == 0 {
		return 0
	}
	c.mu.RLock()
	p, ok := c.m[tid]
	c.mu.RUnlock()
	if ok {
		return p
	}
	p = readTgid(tid)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxPIDs {
		c.m = make(map[uint32]uint32)
	}
	c.m[tid] = p
	c.mu.Unlock()
	return p
}

// readTgid returns the process of thread tid, or tid when /proc does not
// say (the thread has exited).
func readTgid(tid uint32) uint32 {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return tid
	}
	return parseTgid(b, tid)
}

// parseTgid finds the Tgid line in the text of /proc/<tid>/status.
func parseTgid(status []byte, def uint32) uint32 {
	i := bytes.Index(status, []byte("\nTgid:"))
	if i < 0 {
		return def
	}
	rest := status[i+6:]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(rest)), 10, 32)
	if err != nil {
		return def
	}
	return uint32(v)
}
