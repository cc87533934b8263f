// Automation wires the rule engine, complex event processing and durable
// workflows to one bus, the way a document-ingest service would:
//
//   - A PDF closed under /inbox starts the "ingest-pdf" workflow:
//     checksum → (store and index in parallel) → notify. Each step has
//     a compensation; a PDF named *broken* makes notify fail for good,
//     so its stored copy and index entry are removed again, in reverse
//     order, and the history shows it.
//
//   - A CEP pattern watches deletes: more than 100 by one process within
//     1 s of event time is a "mass-delete" match, published on the bus,
//     where a rule turns it into an alert.
//
//   - Workflow state is in a journal, so a restarted process would resume
//     unfinished executions from their last completed step.
//
//     go run ./examples/automation
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/filter"
	"github.com/vexfs/semevent/propagation"
	"github.com/vexfs/semevent/propagation/journal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "automation:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "semevent-automation-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	inbox, store, index := filepath.Join(dir, "inbox"), filepath.Join(dir, "store"), filepath.Join(dir, "index")
	for _, d := range []string{inbox, store, index} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	ctx := context.Background()

	bus, err := propagation.New(nil)
	if err != nil {
		return err
	}
	defer bus.Close(ctx)
	j, err := journal.Open(filepath.Join(dir, "workflows"), nil)
	if err != nil {
		return err
	}
	defer j.Close(context.Background())

	// The workflow.
	var mu sync.Mutex
	var notes []string
	ingest, err := automation.NewFlow(automation.Flow{
		Name: "ingest-pdf",
		When: `Kind == "close" && Path startsWith "/inbox/" && Path endsWith ".pdf"`,
		Steps: []automation.Node{
			automation.Task("checksum", automation.Step{
				Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
					data, err := os.ReadFile(filepath.Join(dir, sc.Event.Path))
					if err != nil {
						return nil, automation.Permanent(err)
					}
					sum := sha256.Sum256(data)
					return []byte(hex.EncodeToString(sum[:8])), nil
				},
			}),
			automation.Parallel(
				automation.Task("store", automation.Step{
					Action: "blob-store",
					Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
						data, err := os.ReadFile(filepath.Join(dir, sc.Event.Path))
						if err != nil {
							return nil, err
						}
						return nil, os.WriteFile(filepath.Join(store, filepath.Base(sc.Event.Path)), data, 0o644)
					},
					Compensate: func(ctx context.Context, sc *automation.StepContext) error {
						fmt.Println("  compensate: remove stored", filepath.Base(sc.Event.Path))
						return ignoreMissing(os.Remove(filepath.Join(store, filepath.Base(sc.Event.Path))))
					},
				}),
				automation.Task("index", automation.Step{
					Action:  "search-index",
					Timeout: time.Second,
					Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
						entry := filepath.Join(index, filepath.Base(sc.Event.Path)+".idx")
						return nil, os.WriteFile(entry, []byte(sc.Event.Path), 0o644)
					},
					Compensate: func(ctx context.Context, sc *automation.StepContext) error {
						fmt.Println("  compensate: drop index entry", filepath.Base(sc.Event.Path))
						return ignoreMissing(os.Remove(filepath.Join(index, filepath.Base(sc.Event.Path)+".idx")))
					},
				}),
			),
			automation.Task("notify", automation.Step{
				Action: "notifier",
				Retry:  automation.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond},
				Do: func(ctx context.Context, sc *automation.StepContext) ([]byte, error) {
					if strings.Contains(sc.Event.Path, "broken") {
						return nil, automation.Permanent(errors.New("notifier rejected the document"))
					}
					mu.Lock()
					notes = append(notes, "new document "+sc.Event.Path)
					mu.Unlock()
					return nil, nil
				},
			}),
		},
	})
	if err != nil {
		return err
	}
	ex, err := automation.NewExecutor(&automation.ExecutorOptions{
		Workflows: []automation.Workflow{ingest},
		Store:     automation.NewJournalStore(j),
		Quota:     automation.TenantQuota{MaxConcurrent: 4},
	})
	if err != nil {
		return err
	}

	// The CEP pattern and the rule that turns its matches into alerts.
	patterns, err := cep.New([]cep.Pattern{
		&cep.Count{
			Name:   "mass-delete",
			Key:    semevent.PIDKey,
			Stage:  cep.Stage{Kind: semevent.KindFileDelete},
			Min:    101,
			Within: time.Second,
		},
	}, &cep.Options{Publisher: bus})
	if err != nil {
		return err
	}
	var alerts []string
	alerter, err := rules.New(&rules.RuleSet{Rules: []rules.Rule{{
		Name:  "alert-mass-delete",
		When:  `Attr("pattern") == "mass-delete"`,
		Kinds: []semevent.Kind{semevent.KindPatternMatched},
		Then:  []rules.ActionRef{{Action: "alert", Params: map[string]string{"channel": "#security"}}},
	}}}, &rules.Options{Actions: map[string]rules.ActionFunc{
		"alert": func(_ context.Context, f *rules.Firing) error {
			ids, err := cep.CausingIDs(f.Event)
			if err != nil {
				return err
			}
			mu.Lock()
			alerts = append(alerts, fmt.Sprintf("%s: pid %d deleted %d files within 1s", f.Params["channel"], f.Event.PID, len(ids)))
			mu.Unlock()
			return nil
		},
	}})
	if err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		h    semevent.Handler
		f    filter.Filter
	}{
		{"workflows", ex, filter.Kinds(semevent.KindFileClose)},
		{"cep", patterns, filter.Kinds(semevent.KindFileDelete)},
		{"rules", alerter, filter.Kinds(semevent.KindPatternMatched)},
	} {
		if _, err := bus.Subscribe(s.h, &propagation.SubscribeOptions{Name: s.name, Filter: s.f}); err != nil {
			return err
		}
	}

	// The traffic: five PDFs (one broken) and two processes deleting.
	docs := []string{"q3-report.pdf", "contract.pdf", "broken-scan.pdf", "invoice-17.pdf", "notes.txt"}
	for i, name := range docs {
		if err := os.WriteFile(filepath.Join(inbox, name), []byte(strings.Repeat(name, 100+i)), 0o644); err != nil {
			return err
		}
		if err := bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileClose, Path: "/inbox/" + name, Tenant: "acme"}); err != nil {
			return err
		}
	}
	t0 := semevent.Now()
	for i := range 150 { // pid 4242: 150 deletes in 300 ms
		if err := bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileDelete, PID: 4242, Path: fmt.Sprintf("/data/%d", i), Time: t0 + int64(i)*int64(2*time.Millisecond)}); err != nil {
			return err
		}
	}
	for i := range 120 { // pid 7: 120 deletes over 6 s, never 101 in 1 s
		if err := bus.Publish(ctx, &semevent.Event{Kind: semevent.KindFileDelete, PID: 7, Path: fmt.Sprintf("/tmp/%d", i), Time: t0 + int64(i)*int64(50*time.Millisecond)}); err != nil {
			return err
		}
	}

	// Wait for the four PDFs' executions.
	fmt.Println("ingest-pdf executions:")
	for deadline := time.Now().Add(30 * time.Second); ; {
		s := ex.Stats()
		if s.Succeeded+s.Failed+s.CompensationFailed == 4 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("executions did not finish: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Producers and engines first, then the bus they publish to.
	if err := semevent.CloseAll(ctx, patterns, alerter, ex, bus); err != nil {
		return err
	}
	hist := ex.History()
	slices.SortFunc(hist, func(a, b automation.ExecutionInfo) int { return strings.Compare(a.Path, b.Path) })
	for _, h := range hist {
		fmt.Printf("  %-22s %-9s", h.Path, h.Outcome)
		for _, s := range h.Steps {
			fmt.Printf(" %s:%s", s.ID, s.Status)
		}
		fmt.Println()
	}
	stored, _ := os.ReadDir(store)
	indexed, _ := os.ReadDir(index)
	fmt.Printf("stored %d documents, indexed %d (the broken one was compensated)\n", len(stored), len(indexed))
	mu.Lock()
	defer mu.Unlock()
	for _, n := range notes {
		fmt.Println("notify:", n)
	}
	for _, a := range alerts {
		fmt.Println("alert:", a)
	}
	if len(alerts) != 1 || len(stored) != 3 || len(indexed) != 3 {
		return fmt.Errorf("want 1 alert, 3 stored, 3 indexed; got %d, %d, %d", len(alerts), len(stored), len(indexed))
	}
	cs := patterns.Stats()
	fmt.Printf("cep: %d delete events, %d match; rules fired %d; executions %+v\n", cs.Events, cs.Matches, alerter.Stats().Fired, summary(ex.Stats()))
	return nil
}

func summary(s automation.ExecutorStats) string {
	return fmt.Sprintf("succeeded %d, failed and compensated %d, compensations %d", s.Succeeded, s.Failed, s.Compensations)
}

func ignoreMissing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
