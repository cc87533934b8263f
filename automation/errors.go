package automation

import (
	"errors"
	"fmt"

	"github.com/vexfs/semevent"
)

// Sentinel errors, for errors.Is.
var (
	// ErrBadRule is wrapped by every *[RuleError]: a rule or pattern that
	// does not compile, or a rule set that does not parse.
	ErrBadRule = errors.New("automation: bad rule")
	// ErrQuotaExceeded is returned by [Executor.Start] when the tenant's
	// queue of waiting executions is full.
	ErrQuotaExceeded = errors.New("automation: tenant quota exceeded")
	// ErrTimeout is returned by [Run.Await] when no event came in time,
	// and wrapped by a step that exceeded its per-attempt timeout.
	ErrTimeout = errors.New("automation: timeout")
	// ErrUnknownWorkflow is returned by [Executor.Start] for a workflow
	// name that was not registered, and by recovery for a recorded
	// execution whose workflow is no longer registered.
	ErrUnknownWorkflow = errors.New("automation: unknown workflow")
	// ErrDuplicate is returned by [Executor.Start] for an execution ID
	// that was already started: the triggering event was seen before.
	ErrDuplicate = errors.New("automation: execution already started")
	// ErrCorruptRecord is wrapped by the *[RecordError] that
	// [DecodeRecord] returns.
	ErrCorruptRecord = errors.New("automation: corrupt record")
	// ErrClosed is returned by executors and engines after Close; it wraps
	// semevent.ErrClosed.
	ErrClosed = fmt.Errorf("automation: %w", semevent.ErrClosed)
)

// RuleError reports a rule (or CEP pattern) that was rejected: which one,
// which field, and why. For an expr condition Err is the
// *filter.ExprError, which carries the line, column and byte offset.
type RuleError struct {
	Rule  string // the rule's or pattern's name; "#N" when it has none
	Field string // e.g. "when", "then[1].action", "stages[0].when"
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("automation: rule %s: %s: %v", e.Rule, e.Field, e.Err)
}

// Unwrap returns ErrBadRule and the cause.
func (e *RuleError) Unwrap() []error { return []error{ErrBadRule, e.Err} }

// StepError reports a workflow step that failed after its last attempt.
type StepError struct {
	Execution string // execution ID
	Step      string // step ID within the execution
	Attempts  int
	Err       error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("automation: execution %s: step %s failed after %d attempt(s): %v", e.Execution, e.Step, e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *StepError) Unwrap() error { return e.Err }

// RecordError reports a durable-log record that could not be decoded: the
// byte position in the record and why.
type RecordError struct {
	Pos int
	Msg string
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("automation: corrupt record at byte %d: %s", e.Pos, e.Msg)
}

// Unwrap returns [ErrCorruptRecord].
func (e *RecordError) Unwrap() error { return ErrCorruptRecord }
