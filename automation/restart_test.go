package automation

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/propagation/journal"
)

// The restart test: a child process (this test binary, re-executed) runs
// workflows with their state in a journal; the parent SIGKILLs it at
// random moments, restarts it, and finally lets it finish. Every
// execution must then have finished exactly once, with every step's side
// effect (a file created with O_EXCL under the step's idempotency key)
// present exactly once.

const (
	restartEnv   = "SEMEVENT_AUTOMATION_RESTART_CHILD"
	restartSteps = 4
)

// restartExecs is the number of executions; the soak (SEMEVENT_SOAK set,
// which the child inherits) runs more, so that more kills land.
var restartExecs = func() int {
	if os.Getenv("SEMEVENT_SOAK") != "" {
		return 400
	}
	return 40
}()

func restartEvent(i int) *semevent.Event {
	return &semevent.Event{ID: semevent.MakeID(uint64(i+1), 7, 7), Kind: semevent.KindFileCreate, Path: fmt.Sprintf("/inbox/%d.pdf", i), Tenant: fmt.Sprintf("t%d", i%3), Time: int64(i + 1)}
}

// restartChild runs the child side when the environment asks for it, and
// then exits the process.
func restartChild() bool {
	dir := os.Getenv(restartEnv)
	if dir == "" {
		return false
	}
	if err := runRestartChild(dir); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
	return true
}

func runRestartChild(dir string) error {
	j, err := journal.Open(filepath.Join(dir, "journal"), nil)
	if err != nil {
		return err
	}
	defer j.Close(context.Background())
	attempts, err := os.OpenFile(filepath.Join(dir, "attempts"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer attempts.Close()
	effects := filepath.Join(dir, "effects")
	if err := os.MkdirAll(effects, 0o755); err != nil {
		return err
	}
	wf := NewWorkflow("proc", nil, func(r *Run) error {
		for s := range restartSteps {
			name := fmt.Sprintf("step%d", s)
			do := func(ctx context.Context, sc *StepContext) ([]byte, error) {
				fmt.Fprintf(attempts, "%s\n", sc.Key())
				time.Sleep(time.Duration(1+rand.IntN(4)) * time.Millisecond)
				f, err := os.OpenFile(filepath.Join(effects, strings.NewReplacer("/", "_").Replace(sc.Key())), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if errors.Is(err, os.ErrExist) {
					return []byte("again"), nil // idempotent: the effect is already there
				}
				if err != nil {
					return nil, err
				}
				return []byte("ok"), f.Close()
			}
			if s == 1 {
				// a parallel pair, to crash inside a fan-out too
				if err := r.Parallel(func(r *Run) error {
					_, err := r.Step(name+"a", Step{Do: do})
					return err
				}, func(r *Run) error {
					_, err := r.Step(name+"b", Step{Do: do})
					return err
				}); err != nil {
					return err
				}
				continue
			}
			if _, err := r.Step(name, Step{Do: do}); err != nil {
				return err
			}
		}
		return nil
	})
	ex, err := NewExecutor(&ExecutorOptions{Workflows: []Workflow{wf}, Store: NewJournalStore(j), MaxConcurrent: 8})
	if err != nil {
		return err
	}
	ctx := context.Background()
	for i := range restartExecs {
		if _, err := ex.Start(ctx, "proc", restartEvent(i)); err != nil && !errors.Is(err, ErrDuplicate) {
			return err
		}
	}
	for {
		s := ex.Stats()
		if s.Running == 0 && s.Queued == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if s := ex.Stats(); s.Abandoned > 0 || s.Failed > 0 {
		return fmt.Errorf("stats %+v", s)
	}
	return ex.Close(ctx)
}

func TestRestartAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	kills := 8
	if os.Getenv("SEMEVENT_SOAK") != "" {
		kills = 40
	}
	dir := t.TempDir()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "-test.run=^$")
		cmd.Env = append(os.Environ(), restartEnv+"="+dir)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	r := rand.New(rand.NewPCG(1, 2))
	lines := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "attempts"))
		return strings.Count(string(b), "\n")
	}
	killed := 0
	for range kills {
		before := lines()
		cmd := start()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Kill once this child has started some step, after a random
		// delay: mid-workflow, at a random point of it.
		progressed, exited := false, false
		for !progressed && !exited {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("child failed: %v", err)
				}
				exited = true
			case <-time.After(time.Millisecond):
				progressed = lines() > before
			}
		}
		if exited {
			continue // finished before the kill: the next run finds nothing to do
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child failed: %v", err)
			}
		case <-time.After(time.Duration(r.IntN(40)) * time.Millisecond):
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			killed++
		}
	}
	cmd := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final child: %v", err)
	}

	j, err := journal.Open(filepath.Join(dir, "journal"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close(context.Background())
	finished := map[string]int{}
	starts := map[string]int{}
	if err := NewJournalStore(j).Load(context.Background(), func(r *Record) error {
		switch r.Type {
		case RecStarted:
			starts[r.Execution]++
		case RecFinished:
			finished[r.Execution]++
			if r.Outcome != Succeeded {
				t.Errorf("execution %s: outcome %v (%s)", r.Execution, r.Outcome, r.Err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	effects, err := os.ReadDir(filepath.Join(dir, "effects"))
	if err != nil {
		t.Fatal(err)
	}
	stepsPerExec := restartSteps + 1 // step1 is a parallel pair
	attempts, _ := os.ReadFile(filepath.Join(dir, "attempts"))
	nAttempts := strings.Count(string(attempts), "\n")
	for i := range restartExecs {
		id := ExecutionID("proc", restartEvent(i))
		if starts[id] != 1 || finished[id] != 1 {
			t.Errorf("execution %s: started %d times, finished %d times; want 1 and 1", id, starts[id], finished[id])
		}
	}
	if len(effects) != restartExecs*stepsPerExec {
		t.Errorf("%d side-effect files, want %d", len(effects), restartExecs*stepsPerExec)
	}
	t.Logf("%d kills; %d executions finished exactly once; %d step effects; %d step attempts (%d re-run after a kill, absorbed by the idempotency key)",
		killed, len(finished), len(effects), nAttempts, nAttempts-len(effects))
}
