package automation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

// The outbox test (issue 14 item 24): a child process (this test binary)
// runs a saga whose steps and compensations emit events, with its records
// in one journal (JournalStore) and its events published to a durable bus
// on another. The child SIGKILLs itself just before, or just after, its
// N-th store append, for every N; a second run recovers and finishes.
// Then the bus's journal must hold every event of every committed record
// exactly once, and nothing else: no event without its record, no record
// without its events, compensations' events once.

const (
	outboxEnv  = "SEMEVENT_AUTOMATION_OUTBOX_CHILD" // the child's directory
	outboxKill = "SEMEVENT_AUTOMATION_OUTBOX_KILL"  // "before:N" or "after:N"
)

var outboxTrigger = &semevent.Event{ID: semevent.MakeID(42, 1, 1), Kind: semevent.KindFileCreate, Tenant: "acme", Path: "/inbox/order.pdf", Time: 1}

// killingStore wraps a Store and SIGKILLs the process at one append.
type killingStore struct {
	Store
	n      atomic.Int64
	before int64 // kill before the append with this number (1-based)
	after  int64 // kill after it
	count  *os.File
}

func (s *killingStore) Append(ctx context.Context, r *Record) error {
	n := s.n.Add(1)
	if n == s.before {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	err := s.Store.Append(ctx, r)
	fmt.Fprintln(s.count, n)
	if n == s.after {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return err
}

// outboxChild runs the child side when the environment asks for it.
func outboxChild() bool {
	dir := os.Getenv(outboxEnv)
	if dir == "" {
		return false
	}
	if err := runOutboxChild(dir, os.Getenv(outboxKill)); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
	return true
}

func runOutboxChild(dir, kill string) error {
	ctx := context.Background()
	sj, err := journal.Open(filepath.Join(dir, "store"), nil)
	if err != nil {
		return err
	}
	defer sj.Close(ctx)
	bj, err := journal.Open(filepath.Join(dir, "bus"), nil)
	if err != nil {
		return err
	}
	defer bj.Close(ctx)
	bus, err := propagation.New(&propagation.Options{Journal: bj, Durability: propagation.Durable})
	if err != nil {
		return err
	}
	defer bus.Close(ctx)
	count, err := os.OpenFile(filepath.Join(dir, "appends"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer count.Close()
	store := &killingStore{Store: NewJournalStore(sj), count: count}
	if mode, n, ok := strings.Cut(kill, ":"); ok {
		k, _ := strconv.ParseInt(n, 10, 64)
		if mode == "before" {
			store.before = k
		} else {
			store.after = k
		}
	}
	emit := func(sc *StepContext, what string) {
		sc.Emit(&semevent.Event{Kind: semevent.KindCustom, Topic: "app." + what, Attrs: []semevent.Attr{{Key: "step", Value: sc.Step}}})
	}
	steps := make([]Node, 3)
	for i := range steps {
		steps[i] = Task(fmt.Sprint("s", i), Step{
			Do: func(_ context.Context, sc *StepContext) ([]byte, error) {
				emit(sc, "done")
				if i == 2 {
					return nil, Permanent(errors.New("declined"))
				}
				return nil, nil
			},
			Compensate: func(_ context.Context, sc *StepContext) error {
				emit(sc, "undo")
				return nil
			},
		})
	}
	wf, err := NewFlow(Flow{Name: "order", Steps: []Node{Seq(steps...)}})
	if err != nil {
		return err
	}
	errs := make(chan error, 16)
	ex, err := NewExecutor(&ExecutorOptions{Workflows: []Workflow{wf}, Store: store, Publisher: bus,
		OnError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		}})
	if err != nil {
		return err
	}
	id, err := ex.Start(ctx, "order", outboxTrigger)
	if err != nil && !errors.Is(err, ErrDuplicate) {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if info, ok := ex.Execution(id); ok && info.Outcome != Running {
			break
		}
		if errors.Is(err, ErrDuplicate) { // finished before the crash
			if _, ok := ex.Execution(id); !ok {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("execution %s did not end", id)
		}
		time.Sleep(time.Millisecond)
	}
	if err := ex.Close(ctx); err != nil {
		return err
	}
	select {
	case err := <-errs:
		return fmt.Errorf("OnError: %w", err)
	default:
	}
	return nil
}

func TestOutboxSIGKILLAtEveryRecord(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	run := func(dir, kill string) error {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), outboxEnv+"="+dir, outboxKill+"="+kill)
		out, err := cmd.CombinedOutput()
		if err != nil && len(out) > 0 {
			return fmt.Errorf("%w: %s", err, out)
		}
		return err
	}
	// A clean run counts the appends.
	clean := t.TempDir()
	if err := run(clean, ""); err != nil {
		t.Fatal(err)
	}
	total := len(readLines(t, filepath.Join(clean, "appends")))
	checkOutbox(t, clean, "clean run")
	if total < 10 {
		t.Fatalf("clean run made %d appends, want at least 10", total)
	}
	for n := 1; n <= total; n++ {
		for _, mode := range []string{"before", "after"} {
			kill := fmt.Sprintf("%s:%d", mode, n)
			dir := t.TempDir()
			err := run(dir, kill)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("%s: child was not killed: %v", kill, err)
			}
			if err := run(dir, ""); err != nil {
				t.Fatalf("%s: recovery run: %v", kill, err)
			}
			checkOutbox(t, dir, kill)
		}
	}
	t.Logf("SIGKILL before and after each of %d store appends: every committed event published exactly once", total)
}

// checkOutbox compares the events committed in the store's records with
// the events in the bus's journal.
func checkOutbox(t *testing.T, dir, what string) {
	t.Helper()
	ctx := context.Background()
	sj, err := journal.Open(filepath.Join(dir, "store"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sj.Close(ctx)
	committed := map[semevent.ID]string{} // event ID → its record's step and type
	finished := 0
	err = NewJournalStore(sj).Load(ctx, func(r *Record) error {
		for _, ev := range r.Events {
			if prev, dup := committed[ev.ID]; dup {
				t.Errorf("%s: event %v committed twice (%s and %s)", what, ev.ID, prev, r.Step)
			}
			committed[ev.ID] = fmt.Sprintf("%s/%d", r.Step, r.Type)
		}
		if r.Type == RecFinished {
			finished++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if finished != 1 {
		t.Errorf("%s: %d finished records, want 1", what, finished)
	}
	bj, err := journal.Open(filepath.Join(dir, "bus"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bj.Close(ctx)
	rd, err := bj.NewReader(bj.FirstOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	seen := map[semevent.ID]int{}
	topics := map[string]int{}
	for {
		var ev semevent.Event
		_, err := rd.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		seen[ev.ID]++
		if seen[ev.ID] > 1 {
			t.Errorf("%s: event %v (%s) published %d times", what, ev.ID, ev.TopicOrKind(), seen[ev.ID])
		}
		if _, ok := committed[ev.ID]; !ok {
			t.Errorf("%s: event %v (%s) published without a committed record", what, ev.ID, ev.TopicOrKind())
		}
		if ev.Tenant != "acme" {
			t.Errorf("%s: event %v has tenant %q", what, ev.ID, ev.Tenant)
		}
		topics[ev.TopicOrKind()]++
	}
	for id, rec := range committed {
		if seen[id] == 0 {
			t.Errorf("%s: event %v of record %s committed but never published", what, id, rec)
		}
	}
	// s0 and s1 done, s2 failed (its emitted event discarded with the
	// failed attempt), s1 and s0 compensated: their events once each.
	want := map[string]int{"app.done": 2, "app.undo": 2, "automation.workflow.step": 5}
	for topic, n := range want {
		if topics[topic] != n {
			t.Errorf("%s: %d events of topic %s, want %d (all: %v)", what, topics[topic], topic, n, topics)
		}
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}
