package fusebridge

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/access"
	"github.com/vexfs/semevent/propagation"
)

// WriteMode says which events a file's writes produce.
type WriteMode uint8

const (
	// WriteSessions emits one [semevent.KindFileWrite] per open→close
	// session of a handle through which the file changed, when the handle
	// is released, carrying the bytes written through it and the byte
	// ranges touched. Sessions are per handle, never per file. The default, and the
	// form the kernel watcher reports, so it folds across the boundary.
	WriteSessions WriteMode = iota
	// WriteCalls emits one event per write call, with its offset and size,
	// instead of the session summary. Such events take no part in dedup.
	WriteCalls
	// WriteBoth emits both.
	WriteBoth
)

func (m WriteMode) String() string {
	switch m {
	case WriteSessions:
		return "sessions"
	case WriteCalls:
		return "calls"
	case WriteBoth:
		return "both"
	}
	return fmt.Sprintf("WriteMode(%d)", uint8(m))
}

// Options configure a [Bridge]. The zero value, and a nil *Options, mean
// defaults.
type Options struct {
	// Writes chooses per-session summaries, per-call events or both.
	// Default WriteSessions.
	Writes WriteMode

	// Kinds, when non-nil, lists the only kinds emitted; nil emits every
	// file-system kind.
	Kinds []semevent.Kind

	// QueueSize is the capacity of the queue between the file-system
	// operations and the goroutine that publishes. Default 8192.
	QueueSize int

	// Policy applies when the queue is full: Block waits up to
	// BlockTimeout and then drops; DropNewest drops the new event;
	// DropOldest evicts the oldest queued one. Every drop is counted in
	// [Stats]. The file operation always completes. Default Block.
	Policy propagation.Policy

	// BlockTimeout bounds how long an operation waits for room under
	// Block. Default 50ms.
	BlockTimeout time.Duration

	// Passthrough lets the kernel serve reads and writes of files opened
	// through the bridge directly from the backing file (go-fuse's
	// passthrough, available as root). The server then never sees the
	// data calls: no per-call events, and a session is reported written
	// when the file's size or modification time changed between open and
	// release. Default false.
	Passthrough bool

	// BatchDelay is how long the publishing goroutine, woken by an event,
	// waits for more before it publishes them as one batch. Batches cost
	// the bus (and the processor the FUSE server needs) far fewer
	// wake-ups than single events; the price is that much latency.
	// Default 1ms; negative publishes at once.
	BatchDelay time.Duration

	// Tenant is stamped on every event.
	Tenant string

	// Principal is the bridge's own identity: every publish carries it in
	// its context (access.WithPrincipal), so that a bus with an
	// Authorizer accepts the bridge's events. It needs a grant of
	// access.OpPublish on the topics the bridge publishes ("fs.>" for
	// every file-system event) and, when bound to a tenant, Tenant set to
	// that tenant. Nil publishes without one, which an authorized bus
	// refuses (counted in Stats.Failed).
	Principal *access.Principal

	// Annotate, when set, is called with the operation's context just
	// before each event is queued; it may set the trace context, cause
	// and attributes. It runs inside the file operation: keep it fast.
	Annotate func(ctx context.Context, ev *semevent.Event)

	// Logger receives the bridge's log lines (component "fusebridge"):
	// events the publisher refused (error, "failed", "total", "err") and
	// events the queue dropped (warning, "reason" full, evicted, timeout
	// or closed), each logged the first time and then at most every 10s
	// as a summary whose "count" says how many occurred; nothing is
	// allocated per event when the level leaves them out. nil means
	// slog.Default(); slog.New(slog.DiscardHandler) silences it.
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultQueueSize    = 8192
	DefaultBlockTimeout = 50 * time.Millisecond
	DefaultBatchDelay   = time.Millisecond
)

func (o *Options) withDefaults() Options {
	var c Options
	if o != nil {
		c = *o
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.BatchDelay == 0 {
		c.BatchDelay = DefaultBatchDelay
	}
	return c
}

// Validate reports every problem with o (after defaults) in one
// *[semevent.OptionsError], which wraps [semevent.ErrInvalidOptions].
func (o *Options) Validate() error {
	c := o.withDefaults()
	e := &semevent.OptionsError{Options: "fusebridge.Options"}
	bad := e.Addf
	if c.Writes > WriteBoth {
		bad("Writes", "unknown mode %d", uint8(c.Writes))
	}
	for i, k := range c.Kinds {
		if !k.IsFile() {
			bad(fmt.Sprintf("Kinds[%d]", i), "%v is not a file-system kind", k)
		}
	}
	if c.QueueSize < 1 {
		bad("QueueSize", "%d, want at least 1", c.QueueSize)
	}
	if c.Policy > propagation.DropOldest {
		bad("Policy", "unknown policy %d", uint8(c.Policy))
	}
	if c.BlockTimeout < 0 {
		bad("BlockTimeout", "%v is negative", c.BlockTimeout)
	}
	return e.Err()
}
