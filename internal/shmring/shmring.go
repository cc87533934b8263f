// Package shmring is a single-producer, single-consumer ring of byte
// records in shared memory, for handing events between two processes on
// one machine without a socket.
//
// The memory is a memfd mapped by both processes (the creator passes the
// descriptor to the other, e.g. through exec.Cmd.ExtraFiles). It holds a
// header, a ring of fixed-size slots and a bounded payload area: a record
// that fits in a slot is copied into it; a longer one goes to the payload
// area and its slot points there. The producer publishes a slot by
// advancing the head with a release store; the consumer frees it by
// advancing the tail.
//
// Each side records its pid when it claims its role. A side that waits
// (the producer on a full ring, the consumer on an empty one) checks that
// the other is alive and returns [ErrPeerGone] when it is not; a producer
// that calls Close ends the stream, and the consumer gets io.EOF after the
// last record.
//
// The shared memory is written by another process and is not trusted: a
// slot that does not decode returns a *[CorruptError], never a panic.
package shmring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Errors.
var (
	// ErrPeerGone is returned when the other process exited or crashed
	// without closing the ring.
	ErrPeerGone = errors.New("shmring: peer gone")
	// ErrFull is returned by TrySend when there is no room.
	ErrFull = errors.New("shmring: full")
	// ErrTooLarge is returned for a record longer than the payload area can
	// ever hold.
	ErrTooLarge = errors.New("shmring: record too large")
	// ErrRoleTaken is returned when another live process holds the role.
	ErrRoleTaken = errors.New("shmring: role taken")
	// ErrClosed is returned by Send after Close.
	ErrClosed = errors.New("shmring: closed")
	// ErrCorrupt is wrapped by every *CorruptError.
	ErrCorrupt = errors.New("shmring: corrupt")
)

// CorruptError reports shared memory that does not decode: which slot or
// header field, and why.
type CorruptError struct {
	Where string
	Msg   string
}

func (e *CorruptError) Error() string { return fmt.Sprintf("shmring: corrupt %s: %s", e.Where, e.Msg) }

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// Options size a ring. The zero value and nil mean defaults.
type Options struct {
	// Slots is the number of slots, a power of two. Default 65536.
	Slots int
	// SlotSize is the bytes per slot, a multiple of 8 of at least 24;
	// records up to SlotSize-8 bytes fit inline. Default 256.
	SlotSize int
	// PayloadSize is the bytes of the overflow area. Default 16 MiB.
	PayloadSize int
	// Name names the memfd (visible in /proc/<pid>/fd). Default "semevent-shmring".
	Name string
}

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Slots == 0 {
		c.Slots = 1 << 16
	}
	if c.SlotSize == 0 {
		c.SlotSize = 256
	}
	if c.PayloadSize == 0 {
		c.PayloadSize = 16 << 20
	}
	if c.Name == "" {
		c.Name = "semevent-shmring"
	}
	return c
}

// Validate reports every problem with o, joined.
func (o *Options) Validate() error {
	c := o.withDefaults()
	var errs []error
	if c.Slots < 2 || c.Slots&(c.Slots-1) != 0 || c.Slots > 1<<26 {
		errs = append(errs, fmt.Errorf("shmring: option Slots: %d, want a power of two from 2 to 2^26", c.Slots))
	}
	if c.SlotSize < 24 || c.SlotSize%8 != 0 || c.SlotSize > 1<<20 {
		errs = append(errs, fmt.Errorf("shmring: option SlotSize: %d, want a multiple of 8 from 24 to 1 MiB", c.SlotSize))
	}
	if c.PayloadSize < 0 || c.PayloadSize > 1<<34 {
		errs = append(errs, fmt.Errorf("shmring: option PayloadSize: %d, want 0 to 16 GiB", c.PayloadSize))
	}
	return errors.Join(errs...)
}

// Header layout: each hot word on its own cache line.
const (
	offMagic    = 0   // magic u64
	offSlots    = 8   // u32
	offSlotSize = 12  // u32
	offPayload  = 16  // u64
	offHead     = 64  // u64: slots published
	offTail     = 128 // u64: slots consumed
	offPWrite   = 192 // u64: payload bytes reserved (producer)
	offPRead    = 256 // u64: payload bytes freed (consumer)
	offProdPID  = 320 // u64
	offConsPID  = 384 // u64
	offClosed   = 448 // u64: producer closed
	headerSize  = 512

	magic = 0x31474e5253455353 // "SSERSNG1" little-endian-ish tag

	// Slot header: u32 length, u32 flags.
	slotHeader   = 8
	flagOverflow = 1
)

// Ring is one mapping of a shared ring. A process uses one side of it,
// claimed with [Ring.Producer] or [Ring.Consumer].
type Ring struct {
	fd       int
	mem      []byte
	slots    uint64
	slotSize uint64
	payload  uint64
	slotBase uint64
	payBase  uint64
}

// Create makes a new ring in a fresh memfd.
func Create(opts *Options) (*Ring, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	fd, err := unix.MemfdCreate(o.Name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("shmring: memfd_create: %w", err)
	}
	size := headerSize + o.Slots*o.SlotSize + o.PayloadSize
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("shmring: ftruncate: %w", err)
	}
	r, err := mapRing(fd, size)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	le := binary.LittleEndian
	le.PutUint32(r.mem[offSlots:], uint32(o.Slots))
	le.PutUint32(r.mem[offSlotSize:], uint32(o.SlotSize))
	le.PutUint64(r.mem[offPayload:], uint64(o.PayloadSize))
	atomic.StoreUint64(r.word(offMagic), magic)
	if err := r.init(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Open maps the ring in fd (a descriptor another process passed). Open
// duplicates fd; the caller keeps ownership of its own.
func Open(fd int) (*Ring, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("shmring: dup: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(nfd, &st); err != nil {
		unix.Close(nfd)
		return nil, fmt.Errorf("shmring: fstat: %w", err)
	}
	if st.Size < headerSize {
		unix.Close(nfd)
		return nil, &CorruptError{Where: "header", Msg: fmt.Sprintf("file of %d bytes", st.Size)}
	}
	r, err := mapRing(nfd, int(st.Size))
	if err != nil {
		unix.Close(nfd)
		return nil, err
	}
	if err := r.init(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func mapRing(fd, size int) (*Ring, error) {
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shmring: mmap: %w", err)
	}
	return &Ring{fd: fd, mem: mem}, nil
}

// init reads and checks the geometry in the header.
func (r *Ring) init() error {
	if m := atomic.LoadUint64(r.word(offMagic)); m != magic {
		return &CorruptError{Where: "header", Msg: fmt.Sprintf("magic %#x", m)}
	}
	le := binary.LittleEndian
	r.slots = uint64(le.Uint32(r.mem[offSlots:]))
	r.slotSize = uint64(le.Uint32(r.mem[offSlotSize:]))
	r.payload = le.Uint64(r.mem[offPayload:])
	o := Options{Slots: int(r.slots), SlotSize: int(r.slotSize), PayloadSize: int(r.payload)}
	if err := o.Validate(); err != nil || o.Slots == 0 || o.SlotSize == 0 {
		return &CorruptError{Where: "header", Msg: fmt.Sprintf("geometry %d×%d+%d", r.slots, r.slotSize, r.payload)}
	}
	need := headerSize + r.slots*r.slotSize + r.payload
	if need > uint64(len(r.mem)) {
		return &CorruptError{Where: "header", Msg: fmt.Sprintf("geometry needs %d bytes, mapping has %d", need, len(r.mem))}
	}
	r.slotBase = headerSize
	r.payBase = headerSize + r.slots*r.slotSize
	return nil
}

// FD returns the memfd, to pass to the other process.
func (r *Ring) FD() int { return r.fd }

// File returns the memfd as an *os.File for exec.Cmd.ExtraFiles. Closing
// it does not affect the ring.
func (r *Ring) File() (*os.File, error) {
	nfd, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), "shmring"), nil
}

// Close unmaps the ring and closes its descriptor. Claimed roles stay
// recorded; use Producer.Close to end the stream.
func (r *Ring) Close() error {
	if r.mem == nil {
		return nil
	}
	err := unix.Munmap(r.mem)
	r.mem = nil
	return errors.Join(err, unix.Close(r.fd))
}

func (r *Ring) word(off uint64) *uint64 { return (*uint64)(unsafe.Pointer(&r.mem[off])) }

func (r *Ring) claim(off uint64) error {
	me := uint64(os.Getpid())
	for {
		cur := atomic.LoadUint64(r.word(off))
		if cur == me {
			return nil
		}
		if cur != 0 && alive(cur) {
			return fmt.Errorf("%w: by pid %d", ErrRoleTaken, cur)
		}
		if atomic.CompareAndSwapUint64(r.word(off), cur, me) {
			return nil
		}
	}
}

// alive reports whether process pid exists.
func alive(pid uint64) bool {
	err := unix.Kill(int(pid), 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// peerGone reports whether the process that holds the role at off ended.
// A role never claimed counts as alive: the peer may not have started.
func (r *Ring) peerGone(off uint64) bool {
	pid := atomic.LoadUint64(r.word(off))
	return pid != 0 && !alive(pid)
}

// Producer claims the producing side.
func (r *Ring) Producer() (*Producer, error) {
	if err := r.claim(offProdPID); err != nil {
		return nil, err
	}
	return &Producer{r: r, head: atomic.LoadUint64(r.word(offHead)), pwrite: atomic.LoadUint64(r.word(offPWrite))}, nil
}

// Consumer claims the consuming side.
func (r *Ring) Consumer() (*Consumer, error) {
	if err := r.claim(offConsPID); err != nil {
		return nil, err
	}
	t := atomic.LoadUint64(r.word(offTail))
	return &Consumer{r: r, tail: t, head: t, pubTail: t}, nil
}

// Producer writes records. It is not safe for concurrent use.
type Producer struct {
	r      *Ring
	head   uint64 // next slot to write
	tail   uint64 // cached consumer tail
	pwrite uint64
	pread  uint64 // cached
	closed bool
}

// MaxInline returns the longest record that fits in a slot.
func (p *Producer) MaxInline() int { return int(p.r.slotSize - slotHeader) }

// TrySend appends rec if there is room now, or returns ErrFull.
func (p *Producer) TrySend(rec []byte) error {
	if p.closed {
		return ErrClosed
	}
	r := p.r
	if p.head-p.tail >= r.slots {
		p.tail = atomic.LoadUint64(r.word(offTail))
		if p.head-p.tail >= r.slots {
			return ErrFull
		}
	}
	slot := r.mem[r.slotBase+(p.head&(r.slots-1))*r.slotSize:][:r.slotSize]
	le := binary.LittleEndian
	if len(rec) <= int(r.slotSize-slotHeader) {
		le.PutUint32(slot[0:], uint32(len(rec)))
		le.PutUint32(slot[4:], 0)
		copy(slot[slotHeader:], rec)
	} else {
		n := uint64(len(rec))
		if n > r.payload {
			return fmt.Errorf("%w: %d bytes, payload area %d", ErrTooLarge, n, r.payload)
		}
		start := p.pwrite
		if off := start % r.payload; off+n > r.payload {
			start += r.payload - off // records never wrap: skip the end
		}
		if start+n-p.pread > r.payload {
			p.pread = atomic.LoadUint64(r.word(offPRead))
			if start+n-p.pread > r.payload {
				return ErrFull
			}
		}
		copy(r.mem[r.payBase+start%r.payload:], rec)
		p.pwrite = start + n
		atomic.StoreUint64(r.word(offPWrite), p.pwrite)
		le.PutUint32(slot[0:], uint32(n))
		le.PutUint32(slot[4:], flagOverflow)
		le.PutUint64(slot[8:], start)
		le.PutUint64(slot[16:], p.pwrite)
	}
	p.head++
	atomic.StoreUint64(r.word(offHead), p.head)
	return nil
}

// Send appends rec, waiting while the ring is full. It returns
// ErrPeerGone if the consumer exited meanwhile.
func (p *Producer) Send(rec []byte) error {
	for spins := 0; ; spins++ {
		err := p.TrySend(rec)
		if err != ErrFull {
			return err
		}
		if err := wait(spins, func() bool { return p.r.peerGone(offConsPID) }); err != nil {
			return err
		}
	}
}

// Close ends the stream: the consumer gets io.EOF after the last record.
func (p *Producer) Close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	atomic.StoreUint64(p.r.word(offClosed), 1)
	return nil
}

// wait backs off: spin, yield, then sleep; every so often it checks gone.
func wait(spins int, gone func() bool) error {
	switch {
	case spins < 64:
		runtime.Gosched()
		return nil
	case spins%64 == 0 && gone():
		return ErrPeerGone
	case spins < 1024:
		runtime.Gosched()
	default:
		time.Sleep(50 * time.Microsecond)
	}
	return nil
}

// Consumer reads records. It is not safe for concurrent use.
type Consumer struct {
	r       *Ring
	tail    uint64
	head    uint64 // cached
	pubTail uint64 // tail as last stored in the header
	freed   uint64 // payload position to store with the tail
}

// TryRecv returns the next record, appended to dst[:0], or ok false when
// the ring is empty. The error is io.EOF once the producer closed and
// every record was read, or a *CorruptError.
func (c *Consumer) TryRecv(dst []byte) (rec []byte, ok bool, err error) {
	r := c.r
	if c.tail == c.head {
		c.publishTail()
		c.head = atomic.LoadUint64(r.word(offHead))
		if c.tail == c.head {
			if atomic.LoadUint64(r.word(offClosed)) != 0 && atomic.LoadUint64(r.word(offHead)) == c.tail {
				return dst[:0], false, io.EOF
			}
			return dst[:0], false, nil
		}
		if c.head-c.tail > r.slots {
			return dst[:0], false, &CorruptError{Where: "head", Msg: fmt.Sprintf("head %d is %d slots past tail %d", c.head, c.head-c.tail, c.tail)}
		}
	}
	slot := r.mem[r.slotBase+(c.tail&(r.slots-1))*r.slotSize:][:r.slotSize]
	rec, freed, err := DecodeSlot(slot, r.mem[r.payBase:r.payBase+r.payload], dst[:0])
	if err != nil {
		return dst[:0], false, fmt.Errorf("slot %d: %w", c.tail, err)
	}
	c.tail++
	if freed != 0 {
		c.freed = freed
	}
	// Payload space is scarcer than slots: free it at once.
	if freed != 0 || c.tail == c.head || c.tail&(tailBatch-1) == 0 {
		c.publishTail()
	}
	return rec, true, nil
}

// tailBatch is how many slots the consumer frees at once while it works
// through a backlog: fewer stores to the line the producer reads. Reading
// the last record it knows of frees everything.
const tailBatch = 32

func (c *Consumer) publishTail() {
	if c.freed != 0 {
		atomic.StoreUint64(c.r.word(offPRead), c.freed)
		c.freed = 0
	}
	if c.tail != c.pubTail {
		atomic.StoreUint64(c.r.word(offTail), c.tail)
		c.pubTail = c.tail
	}
}

// Recv returns the next record, appended to dst[:0], waiting while the
// ring is empty. It returns io.EOF after the producer closed and every
// record was read, ErrPeerGone if the producer exited without closing.
func (c *Consumer) Recv(dst []byte) ([]byte, error) {
	for spins := 0; ; spins++ {
		rec, ok, err := c.TryRecv(dst)
		if ok || err != nil {
			return rec, err
		}
		if err := wait(spins, func() bool { return c.r.peerGone(offProdPID) }); err != nil {
			// Records published just before the producer died still count.
			if rec, ok, err2 := c.TryRecv(dst); ok || err2 != nil {
				return rec, err2
			}
			return dst[:0], err
		}
	}
}

// DecodeSlot decodes one slot: an inline record, or a pointer into the
// payload area. It appends the record to dst and returns, for an overflow
// record, the payload position the consumer may free up to (0 for inline
// records). It checks every length and offset against the slot and the
// payload area.
func DecodeSlot(slot, payload, dst []byte) (rec []byte, freed uint64, err error) {
	if len(slot) < slotHeader {
		return dst, 0, &CorruptError{Where: "slot", Msg: fmt.Sprintf("%d bytes, header needs %d", len(slot), slotHeader)}
	}
	le := binary.LittleEndian
	n := uint64(le.Uint32(slot[0:]))
	flags := le.Uint32(slot[4:])
	switch flags {
	case 0:
		if n > uint64(len(slot)-slotHeader) {
			return dst, 0, &CorruptError{Where: "slot", Msg: fmt.Sprintf("inline length %d past the slot's %d bytes", n, len(slot)-slotHeader)}
		}
		return append(dst, slot[slotHeader:slotHeader+n]...), 0, nil
	case flagOverflow:
		if len(slot) < 24 {
			return dst, 0, &CorruptError{Where: "slot", Msg: "overflow slot shorter than 24 bytes"}
		}
		start, end := le.Uint64(slot[8:]), le.Uint64(slot[16:])
		size := uint64(len(payload))
		if size == 0 || end < start || end-start != n || n > size {
			return dst, 0, &CorruptError{Where: "slot", Msg: fmt.Sprintf("overflow record %d..%d of length %d in a %d-byte area", start, end, n, size)}
		}
		off := start % size
		if off+n > size {
			return dst, 0, &CorruptError{Where: "slot", Msg: fmt.Sprintf("overflow record at %d of length %d wraps the %d-byte area", off, n, size)}
		}
		return append(dst, payload[off:off+n]...), end, nil
	}
	return dst, 0, &CorruptError{Where: "slot", Msg: fmt.Sprintf("unknown flags %#x", flags)}
}
