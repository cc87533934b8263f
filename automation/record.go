package automation

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
	"github.com/vexfs/semevent/internal/journalrec"
	"github.com/vexfs/semevent/internal/varint"
	"github.com/vexfs/semevent/propagation/journal"
)

// RecordType says what a durable [Record] records.
type RecordType uint8

// The record types, in the order an execution writes them.
const (
	RecStarted            RecordType = iota + 1 // execution accepted; Event is the trigger
	RecStepDone                                 // Step completed; Seq orders completions, Result its output
	RecStepFailed                               // Step failed for good; Err says why
	RecAwaitDone                                // Step (an Await) received Event, or timed out (Event nil)
	RecCompensated                              // Step's compensation succeeded
	RecCompensationFailed                       // Step's compensation failed for good
	RecFinished                                 // execution ended; Outcome, Err
	RecAwaitStarted                             // Step (an Await) began waiting; Seq is its deadline (Unix ns), 0 for none
	RecEmitted                                  // the Events of Step's record of type Seq were published (the outbox relay is done)

	recTypeEnd
)

// Record is one entry of an executor's durable log. Executions are
// rebuilt from their records after a restart.
type Record struct {
	Type      RecordType
	Time      int64 // Unix nanoseconds
	Execution string
	Workflow  string
	Tenant    string
	Step      string
	Seq       uint64
	Outcome   Outcome
	Result    []byte
	Err       string
	Event     *semevent.Event
	// Events are the events the step (or compensation) emitted: its
	// status event and those given to [StepContext.Emit]. They commit
	// with the record, in the same single append (the transactional
	// outbox), and are published after it.
	Events []*semevent.Event
}

// recordVersion is the encoding AppendRecord writes; DecodeRecord also
// reads version 1, which had no Events and ended with the unprefixed
// trigger event.
const (
	recordVersion1 = 1
	recordVersion  = 2
)

// AppendRecord appends the binary encoding of r to dst: a version byte,
// the type and the outcome, then the fields, with strings and byte slices
// length-prefixed (uvarint), then the trigger event (a flag, and a
// length-prefixed internal/codec encoding), then the count of Events and
// each one length-prefixed.
func AppendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, recordVersion, byte(r.Type), byte(r.Outcome))
	dst = binary.AppendVarint(dst, r.Time)
	for _, s := range [...]string{r.Execution, r.Workflow, r.Tenant, r.Step, r.Err} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = binary.AppendUvarint(dst, r.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(r.Result)))
	dst = append(dst, r.Result...)
	if r.Event == nil {
		dst = append(dst, 0)
	} else {
		dst = append(dst, 1)
		dst = appendEvent(dst, r.Event)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Events)))
	for _, ev := range r.Events {
		dst = appendEvent(dst, ev)
	}
	return dst
}

// appendEvent appends ev's codec encoding with a uvarint length before it.
func appendEvent(dst []byte, ev *semevent.Event) []byte {
	start := len(dst)
	dst = codec.Append(dst, ev)
	n := len(dst) - start
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(n))
	dst = append(dst, hdr[:h]...)
	copy(dst[start+h:], dst[start:start+n])
	copy(dst[start:], hdr[:h])
	return dst
}

// DecodeRecord decodes what [AppendRecord] wrote. Bad input yields a
// *[RecordError] with the byte position, never a panic.
func DecodeRecord(b []byte) (*Record, error) {
	pos := 0
	fail := func(msg string) (*Record, error) { return nil, &RecordError{Pos: pos, Msg: msg} }
	if len(b) < 3 {
		return fail("short header")
	}
	version := b[0]
	if version != recordVersion && version != recordVersion1 {
		return fail(fmt.Sprintf("unknown version %d", b[0]))
	}
	r := &Record{Type: RecordType(b[1]), Outcome: Outcome(b[2])}
	if r.Type == 0 || r.Type >= recTypeEnd {
		pos = 1
		return fail(fmt.Sprintf("unknown type %d", b[1]))
	}
	if r.Outcome >= outcomeEnd {
		pos = 2
		return fail(fmt.Sprintf("unknown outcome %d", b[2]))
	}
	pos = 3
	t, n := varint.Varint(b[pos:])
	if n <= 0 {
		return fail("bad time")
	}
	r.Time = t
	pos += n
	bytesField := func() ([]byte, bool) {
		l, n := varint.Uvarint(b[pos:])
		if n <= 0 || l > uint64(len(b)-pos-n) {
			return nil, false
		}
		pos += n
		v := b[pos : pos+int(l)]
		pos += int(l)
		return v, true
	}
	strs := [...]*string{&r.Execution, &r.Workflow, &r.Tenant, &r.Step, &r.Err}
	names := [...]string{"execution", "workflow", "tenant", "step", "err"}
	for i, p := range strs {
		v, ok := bytesField()
		if !ok {
			return fail("bad " + names[i])
		}
		*p = string(v)
	}
	seq, n := varint.Uvarint(b[pos:])
	if n <= 0 {
		return fail("bad seq")
	}
	r.Seq = seq
	pos += n
	res, ok := bytesField()
	if !ok {
		return fail("bad result")
	}
	if len(res) > 0 {
		r.Result = append([]byte(nil), res...)
	}
	if pos >= len(b) {
		return fail("missing event flag")
	}
	event := func() (*semevent.Event, error) {
		v, ok := bytesField()
		if !ok {
			return nil, errors.New("bad event length")
		}
		ev := new(semevent.Event)
		if err := codec.Decode(v, ev); err != nil {
			return nil, err
		}
		return ev, nil
	}
	switch b[pos] {
	case 0:
		pos++
	case 1:
		pos++
		if version == recordVersion1 {
			r.Event = new(semevent.Event)
			if err := codec.Decode(b[pos:], r.Event); err != nil {
				return fail(fmt.Sprintf("event: %v", err))
			}
			return r, nil
		}
		ev, err := event()
		if err != nil {
			return fail(fmt.Sprintf("event: %v", err))
		}
		r.Event = ev
	default:
		return fail(fmt.Sprintf("bad event flag %d", b[pos]))
	}
	if version == recordVersion1 {
		if pos != len(b) {
			return fail("trailing bytes")
		}
		return r, nil
	}
	count, n := varint.Uvarint(b[pos:])
	if n <= 0 || count > uint64(len(b)-pos-n) { // each event takes at least one byte
		return fail("bad event count")
	}
	pos += n
	if count > 0 {
		r.Events = make([]*semevent.Event, 0, count)
	}
	for i := range count {
		ev, err := event()
		if err != nil {
			return fail(fmt.Sprintf("events[%d]: %v", i, err))
		}
		r.Events = append(r.Events, ev)
	}
	if pos != len(b) {
		return fail("trailing bytes")
	}
	return r, nil
}

// Store is an executor's durable log of [Record]s.
type Store interface {
	// Append returns once r is durable: a crash after it returns must
	// not lose r. It may be called concurrently.
	Append(ctx context.Context, r *Record) error
	// Load calls fn with every record in append order.
	Load(ctx context.Context, fn func(r *Record) error) error
}

// RecordTopic is the topic of the journal events that hold [Record]s.
const RecordTopic = "automation.workflow.record"

// JournalStore keeps records in a propagation/journal: each record is an
// event of kind semevent.KindWorkflowStep and topic [RecordTopic] whose
// Data is the [AppendRecord] encoding, so Append returns after the
// journal's commit (an fsync under journal.SyncAlways). Load skips other
// events, so the journal may be shared, but a journal of its own replays
// faster.
type JournalStore struct {
	log *journalrec.Log
}

var _ Store = (*JournalStore)(nil)

// NewJournalStore returns a Store on j. The caller keeps ownership of j.
func NewJournalStore(j *journal.Journal) *JournalStore {
	return &JournalStore{log: journalrec.New(j, semevent.KindWorkflowStep, RecordTopic)}
}

// Append appends r to the journal.
func (s *JournalStore) Append(ctx context.Context, r *Record) error {
	return s.log.Append(ctx, &semevent.Event{
		Tenant: r.Tenant,
		Time:   r.Time,
		Attrs:  []semevent.Attr{{Key: AttrExecution, Value: r.Execution}},
		Data:   AppendRecord(nil, r),
	})
}

// Load replays the journal from its first retained offset.
func (s *JournalStore) Load(ctx context.Context, fn func(r *Record) error) error {
	return s.log.Each(ctx, func(off uint64, ev *semevent.Event) error {
		if ev.Kind != semevent.KindWorkflowStep {
			return nil
		}
		r, err := DecodeRecord(ev.Data)
		if err != nil {
			return fmt.Errorf("journal offset %d: %w", off, err)
		}
		return fn(r)
	})
}
