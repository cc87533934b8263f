// Package rules is the rule engine of semevent's automation: "when
// <condition> then <actions>" over each event given to [Engine.Handle].
//
// # Usage
//
// A [RuleSet] comes from code or from a YAML file ([ParseRuleSet], which
// also reads JSON; [Engine.LoadFile]); [Watch] reloads a rule file when
// it changes, with the same shape and file checks as routing.Watch. Conditions are filter expr
// conditions (Rule.When), ANDed with an optional typed Rule.Filter,
// compiled once into closures; the optional Kinds list indexes a rule so
// that events of other kinds never evaluate it. Identical conditions
// compile once; an active rule with its own condition that compiles to
// closures holds about 360 bytes of heap, so 1M such rules hold about
// 350 MiB (TestDistinctExprRulesMemory: at most 1,000 bytes each, under
// 1 GiB for 1M; SEMEVENT_SOAK=1 builds the 1M). Actions are registered by
// name; [ActionEmit] is built in and publishes a semevent.KindRuleFired
// event, and [StartWorkflow] makes an action that starts a workflow on an
// automation.Executor.
//
//	eng, err := rules.New(ruleSet, &rules.Options{
//		Actions:   map[string]rules.ActionFunc{"notify": notify},
//		Publisher: bus, // any semevent.Publisher, e.g. a propagation.Bus
//	})
//	defer eng.Close(ctx)
//	sub, err := bus.Subscribe(eng, nil) // an Engine is a semevent.Handler
//
// # Concurrency
//
// An [Engine] is safe for concurrent use. Handle runs lock-free against
// an atomically swapped rule set and runs actions on the caller's
// goroutine; a reload never blocks it. Each publish of [ActionEmit] is
// bounded by Options.PublishTimeout, so an engine subscribed to the bus
// it publishes to cannot wait for itself forever.
//
// # Errors
//
// [New] returns *semevent.OptionsError for invalid [Options]. Loading
// returns every problem of a rule set as *automation.RuleError values
// joined with errors.Join (a bad condition carries the *filter.ExprError
// with its line, column and byte offset; an unknown action wraps
// [ErrUnknownAction]). Handle returns automation.ErrClosed after
// [Engine.Close].
package rules
