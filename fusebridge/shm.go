package fusebridge

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/shmring"
)

// Errors of the shared-memory channel, re-exported so that callers can
// test for them with errors.Is.
var (
	// ErrPeerGone: the other process exited without closing the channel.
	ErrPeerGone = shmring.ErrPeerGone
	// ErrChannelCorrupt is wrapped by every error about shared memory that
	// does not decode: a ring whose header or slots are damaged, and an
	// event record that is malformed (the error then also says at which
	// byte of the record).
	ErrChannelCorrupt = shmring.ErrCorrupt
)

// ShmOptions size a shared-memory channel; see [NewShmChannel]. The zero
// value and nil mean defaults: 65536 slots of 256 bytes and a 16 MiB area
// for longer events.
type ShmOptions struct {
	Slots       int // a power of two
	SlotSize    int // a multiple of 8, at least 24; events up to SlotSize-8 encoded bytes fit inline
	PayloadSize int // bytes for events that do not fit a slot
}

// ShmChannel is a single-producer, single-consumer channel of events
// between two processes over shared memory (memfd + mmap). One process
// creates it with [NewShmChannel] and passes [ShmChannel.File] to the other
// (exec.Cmd.ExtraFiles), which opens it with [OpenShmChannel]; one side
// takes the [ShmWriter], the other the [ShmReader].
type ShmChannel struct {
	r *shmring.Ring
}

// NewShmChannel creates a channel in a fresh memfd.
func NewShmChannel(opts *ShmOptions) (*ShmChannel, error) {
	var o shmring.Options
	if opts != nil {
		o = shmring.Options{Slots: opts.Slots, SlotSize: opts.SlotSize, PayloadSize: opts.PayloadSize}
	}
	r, err := shmring.Create(&o)
	if err != nil {
		return nil, err
	}
	return &ShmChannel{r: r}, nil
}

// OpenShmChannel maps the channel in fd, a descriptor passed by the
// process that created it. The caller keeps ownership of fd.
func OpenShmChannel(fd int) (*ShmChannel, error) {
	r, err := shmring.Open(fd)
	if err != nil {
		return nil, err
	}
	return &ShmChannel{r: r}, nil
}

// File returns a new descriptor of the channel's memory, for
// exec.Cmd.ExtraFiles; close it after starting the other process.
func (c *ShmChannel) File() (*os.File, error) { return c.r.File() }

// Close unmaps the channel in this process. It does not wait: ctx is
// there for the one shape of Close that every semevent component has.
// Calling Close again returns nil.
func (c *ShmChannel) Close(ctx context.Context) error { return c.r.Close() }

// Writer claims the producing side.
func (c *ShmChannel) Writer() (*ShmWriter, error) {
	p, err := c.r.Producer()
	if err != nil {
		return nil, err
	}
	return &ShmWriter{p: p}, nil
}

// Reader claims the consuming side.
func (c *ShmChannel) Reader() (*ShmReader, error) {
	cons, err := c.r.Consumer()
	if err != nil {
		return nil, err
	}
	return &ShmReader{c: cons}, nil
}

// ShmWriter sends events to the other process. It is a [semevent.Handler]:
// subscribe it on a bus to forward that bus's events. Its methods may be
// called concurrently (a mutex serialises them).
type ShmWriter struct {
	mu  sync.Mutex // guards p and buf
	p   *shmring.Producer
	buf []byte
}

var _ semevent.Handler = (*ShmWriter)(nil)

// Send encodes ev and appends it, waiting while the channel is full. It
// returns an error wrapping ErrPeerGone when the reader's process ended.
func (w *ShmWriter) Send(ev *semevent.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = codec.Append(w.buf[:0], ev)
	return w.p.Send(w.buf)
}

// Handle implements semevent.Handler with Send.
func (w *ShmWriter) Handle(_ context.Context, ev *semevent.Event) error { return w.Send(ev) }

// Close ends the stream; the reader gets io.EOF after the last event. It
// waits only for a Send in progress.
func (w *ShmWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.p.Close()
}

// ShmReader receives events from the other process. It is not safe for
// concurrent use.
type ShmReader struct {
	c   *shmring.Consumer
	buf []byte
}

// Next decodes the next event into ev, overwriting every field and reusing
// ev's slices and equal strings (so decoding a stream into one Event does
// not allocate; Clone an event to keep it), waiting while the channel is
// empty.
// It returns io.EOF after the writer closed and every event was read, an
// error wrapping [ErrPeerGone] if the writer's process ended without
// closing, or one wrapping [ErrChannelCorrupt] for memory that does not
// decode.
func (r *ShmReader) Next(ev *semevent.Event) error {
	var v EventView
	if err := r.NextView(&v); err != nil {
		return err
	}
	v.Event(ev)
	return nil
}

// Run publishes every event it reads to p until the writer closes (it
// returns nil), ctx ends, or an error.
func (r *ShmReader) Run(ctx context.Context, p semevent.Publisher) error {
	for ctx.Err() == nil {
		ev := new(semevent.Event)
		err := r.Next(ev)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := p.Publish(ctx, ev); err != nil {
			return err
		}
	}
	return ctx.Err()
}
