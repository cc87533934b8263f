package automation

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vexfs/semevent"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidOptions is wrapped by the *[OptionsError] that constructors
	// return when an Options struct fails Validate.
	ErrInvalidOptions = errors.New("automation: invalid options")
	// ErrBadRule is wrapped by every *[RuleError]: a rule or pattern that
	// does not compile, or a rule set that does not parse.
	ErrBadRule = errors.New("automation: bad rule")
	// ErrUnknownAction is wrapped by the *[RuleError] for a rule whose
	// action is not registered.
	ErrUnknownAction = errors.New("automation: unknown action")
	// ErrCircuitOpen is returned by [Breaker.Allow], and so by a step
	// attempt, while the action's circuit breaker is open (or half-open
	// with its probe in flight).
	ErrCircuitOpen = errors.New("automation: circuit open")
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

// OptionsError lists every problem Validate found in an Options struct.
type OptionsError struct {
	Options  string // the struct's type name, e.g. "ExecutorOptions"
	Problems []string
}

func (e *OptionsError) Error() string {
	return fmt.Sprintf("automation: invalid %s: %s", e.Options, strings.Join(e.Problems, "; "))
}

// Unwrap returns [ErrInvalidOptions].
func (e *OptionsError) Unwrap() error { return ErrInvalidOptions }

// problems collects Validate findings.
type problems struct {
	name string
	list []string
}

func (p *problems) addf(format string, args ...any) {
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &OptionsError{Options: p.name, Problems: p.list}
}
