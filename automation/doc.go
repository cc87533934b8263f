// Package automation makes events trigger actions: a rule engine ("when
// <expr condition> then <actions>"), complex event processing over event
// time (sequences, counts, absence, repetition), and workflows — linear,
// parallel, conditional and state machines — with retries, circuit
// breakers, compensation (sagas), tenant quotas and durable recovery.
//
// [Workflow] is the package's one small interface: a name and a Run
// method. [Triggered] is an optional ability beside it, for workflows
// that say which events start them.
//
// # Usage
//
// Rules. A [RuleSet] comes from code or from a YAML or JSON file
// ([ParseRuleSet], [Engine.LoadFile], [Engine.Watch] for hot reload).
// Conditions are filter expr conditions, compiled once into closures; the
// optional Kinds list indexes a rule so that events of other kinds never
// evaluate it. Actions are registered by name; [ActionEmit] is built in
// and publishes a semevent.KindRuleFired event, and [StartWorkflow]
// makes an action that starts a workflow.
//
//	rules, err := automation.NewEngine(ruleSet, &automation.EngineOptions{
//		Actions:   map[string]automation.ActionFunc{"notify": notify},
//		Publisher: bus, // any propagation.Propagator
//	})
//	sub, err := bus.Subscribe(rules, nil) // an Engine is a semevent.Handler
//
// Complex event processing. [NewCEP] compiles [Pattern]s — [Sequence]
// (strict "next" or relaxed "followed-by" contiguity), [Count], [Absence]
// and [Repeat] — each keyed by a [KeyFunc] ([ByPath], [ByPID],
// [ByTenant], [ByAttr]) and bounded by a Within duration of event time.
// A match is published as an event of kind semevent.KindPatternMatched
// whose Cause is the last causing event, whose Data holds every causing
// event's ID (decode with [CausingIDs]) and whose attributes name the
// pattern ([AttrPattern]) and key ([AttrKey]); it copies Tenant, Path and
// PID from the last causing event. Memory is bounded: partial matches
// expire with their window (swept once per shortest Within of event
// time), and each key of each pattern holds at most
// CEPOptions.MaxPartialsPerKey, the oldest evicted and counted.
// Give stages a Kind or Topic: they index the pattern, which is what lets
// a thousand patterns share one event stream.
//
//	cep, err := automation.NewCEP([]automation.Pattern{
//		&automation.Count{Name: "mass-delete", Key: automation.ByPID,
//			Stage: automation.Stage{Kind: semevent.KindFileDelete},
//			Min: 101, Within: time.Second},
//	}, &automation.CEPOptions{Publisher: bus})
//
// Workflows. Build one with [NewFlow] ([Task], [Seq], [Parallel], [If]),
// [NewMachine] (states, transitions on events, timeouts) or
// [NewWorkflow] (a function over [Run]), and give it to an [Executor]:
//
//	ex, err := automation.NewExecutor(&automation.ExecutorOptions{
//		Workflows: []automation.Workflow{ingest},
//		Store:     automation.NewJournalStore(j), // durable; nil: in memory
//		Quota:     automation.TenantQuota{MaxConcurrent: 4, PerSecond: 100},
//	})
//	defer ex.Close(ctx)
//	sub, err := bus.Subscribe(ex, nil) // starts triggered workflows, feeds Await
//
// Each [Step] has a Do, an optional Compensate, a [RetryPolicy]
// (exponential backoff with jitter), a per-attempt Timeout and a circuit
// [Breaker] per Action. If a workflow fails, its completed steps are
// compensated in reverse order of completion and the history
// ([Executor.History], [Executor.Execution]) shows each step's status,
// attempts and timings. [Executor.Cancel] cancels an execution through
// its context.
//
// Tenants are served round-robin, one execution per tenant per round,
// within ExecutorOptions.MaxConcurrent and each tenant's [TenantQuota]
// (concurrent executions, executions per second, queue length), so one
// tenant flooding the executor cannot starve another.
//
// # Durability
//
// With a [Store] — [JournalStore] on a propagation/journal, whose Append
// returns after the fsync — an execution records its start (with the
// triggering event), each step's completion or failure with its result,
// each Await's outcome, each compensation, and its end. A new executor
// on the same store resumes every execution that started and did not
// end: the workflow's Run is replayed, completed steps return their
// recorded results without running, and the execution continues from the
// first step that has no record. Hence:
//
//   - Executions are neither lost nor finished twice. Execution IDs are
//     the workflow name and the triggering event's ID, so a trigger seen
//     again (a durable consumer redelivering after a crash) is refused
//     with [ErrDuplicate], also after a restart.
//   - Steps and compensations run at least once: one that ran when the
//     process died, before its record was written, runs again. Make side
//     effects idempotent with [StepContext.Key], which is the same on
//     every attempt and replay.
//   - Workflow code must be deterministic given its step results, and do
//     its side effects only in steps.
//   - An Await that was waiting at the crash waits, after the restart,
//     until its recorded deadline. Events given to Handle are not
//     recorded until an Await takes them: an execution's inbox
//     ([Listener]) starts empty after a restart.
//   - The store grows with every execution; the executor keeps the IDs of
//     ended executions in memory for deduplication.
//
// The records are [Record]s, encoded by [AppendRecord] and decoded by
// [DecodeRecord].
//
// # Concurrency
//
// [Engine], [CEP], [Executor], [Breaker] and every [Publisher] and
// [Store] the package provides are safe for concurrent use. Engine.Handle
// runs lock-free against an atomically swapped rule set and runs actions
// on the caller's goroutine. CEP.Handle serialises on one mutex and
// publishes matches after releasing it. The executor runs each execution
// in its own goroutine (and each Parallel branch in another); a step's Do
// may run concurrently with other executions' steps. Close waits for
// running executions; executions waiting in Await are suspended at once.
//
// # Errors
//
// Sentinels for errors.Is: [ErrInvalidOptions], [ErrBadRule],
// [ErrUnknownAction], [ErrCircuitOpen], [ErrQuotaExceeded], [ErrTimeout],
// [ErrUnknownWorkflow], [ErrDuplicate], [ErrCorruptRecord], [ErrClosed]
// (wraps semevent.ErrClosed). Typed errors for errors.As: *[RuleError]
// (the rule or pattern, the field, and the cause — a *filter.ExprError
// with line, column and byte offset for a bad condition), *[StepError]
// (execution, step, attempts), *[RecordError] (byte position),
// *[OptionsError] (every problem Validate found). Loading joins every
// problem of a rule set with errors.Join. Nothing panics on bad input;
// a panicking step or workflow fails with an error.
//
// # Testing
//
// Package automation/automationtest has a fake Clock (time moves on
// Advance, or jumps at once for backoff), an in-memory Store that can be
// made to fail (a crash at any record), a recording Publisher, and
// TestStore, the conformance suite for [Store] implementations, which the
// fake and [JournalStore] both pass.
// The package's own tests check the CEP engine against a brute-force
// matcher on random streams, saga order and idempotence under injected
// failures, and recovery after SIGKILL of a child process.
package automation
