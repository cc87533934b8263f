package fusebridge

import (
	"bytes"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pidCache maps the thread ids that FUSE reports as the caller to process
// ids (the Tgid line of /proc/<tid>/status). Thread ids are recycled: a
// thread that exits frees its id for the next process or thread, so an
// entry is valid only for the thread it was made for. Each entry holds
// the inode number of the thread's /proc/<tid> directory: procfs gives
// every /proc/<tid> inode a new number when it makes it, and a reused id
// always gets a new inode, because the old one stays bound to the exited
// thread (its dentry fails revalidation). A lookup statx()es /proc/<tid>
// for its inode number (one system call, under a microsecond here, no
// allocation) and reads the status file again only when the number
// changed. The thread's start time (field 22 of /proc/<tid>/stat) is not
// enough: it counts clock ticks (10 ms), and a forced reuse within one
// tick gave the old process's pid. The cache holds at most maxPIDs
// entries and is cleared when it would grow past them (counted in
// resets).
type pidCache struct {
	mu     sync.RWMutex // guards m and resets
	m      map[uint32]pidEntry
	resets uint64
	// proc is the /proc directory to read; "" means /proc. Tests point
	// it elsewhere.
	proc string
}

type pidEntry struct {
	tgid uint32
	ino  uint64 // the inode of the thread's /proc/<tid> directory
}

const maxPIDs = 4096

func (c *pidCache) tgid(tid uint32) uint32 {
	if tid == 0 {
		return 0
	}
	ino, ok := c.procIno(tid)
	if !ok {
		// The thread has exited (or /proc is not there): it can no
		// longer be asked, so report the thread id.
		return tid
	}
	c.mu.RLock()
	e, hit := c.m[tid]
	c.mu.RUnlock()
	if hit && e.ino == ino {
		return e.tgid
	}
	e = pidEntry{tgid: c.readTgid(tid), ino: ino}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxPIDs {
		if c.m != nil {
			c.resets++
		}
		c.m = make(map[uint32]pidEntry)
	}
	c.m[tid] = e
	c.mu.Unlock()
	return e.tgid
}

// procIno returns the inode number of /proc/<tid>.
func (c *pidCache) procIno(tid uint32) (uint64, bool) {
	var path [64]byte
	p := append(path[:0], c.dir()...)
	p = append(p, '/')
	p = strconv.AppendUint(p, uint64(tid), 10)
	p = append(p, 0)
	if len(p) > len(path) {
		return 0, false
	}
	var st unix.Statx_t
	cwd := unix.AT_FDCWD
	_, _, e := unix.Syscall6(unix.SYS_STATX, uintptr(cwd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unix.AT_STATX_DONT_SYNC), uintptr(unix.STATX_INO), uintptr(unsafe.Pointer(&st)), 0)
	return st.Ino, e == 0
}

func (c *pidCache) dir() string {
	if c.proc == "" {
		return "/proc"
	}
	return c.proc
}

// readSmall reads up to len(buf) bytes of the file at the NUL-terminated
// path.
func readSmall(path *byte, buf []byte) (int, bool) {
	cwd := unix.AT_FDCWD
	fd, _, e := unix.Syscall6(unix.SYS_OPENAT, uintptr(cwd), uintptr(unsafe.Pointer(path)),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return 0, false
	}
	n, err := unix.Read(int(fd), buf)
	unix.Close(int(fd))
	return n, err == nil && n > 0
}

// readTgid returns the process of thread tid, or tid when /proc does not
// say (the thread has exited).
func (c *pidCache) readTgid(tid uint32) uint32 {
	var path [64]byte
	p := append(path[:0], c.dir()...)
	p = append(p, '/')
	p = strconv.AppendUint(p, uint64(tid), 10)
	p = append(p, "/status\x00"...)
	if len(p) > len(path) {
		return tid
	}
	var buf [1024]byte // Tgid is the fourth line
	n, ok := readSmall(&path[0], buf[:])
	if !ok {
		return tid
	}
	return parseTgid(buf[:n], tid)
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
	v, ok := parseDecimal(bytes.TrimSpace(rest))
	if !ok || v > 1<<32-1 {
		return def
	}
	return uint32(v)
}

// parseDecimal parses b as an unsigned decimal number in its one
// minimal form (no sign, no leading zero), without allocating.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
