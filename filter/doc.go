// Package filter decides which events are wanted: [Filter] is the one
// interface every predicate implements, from a plain [Func] to compiled
// expr conditions.
//
// # Usage
//
// Typed builders compile to plain Go and cost a few nanoseconds:
//
//	f := filter.And(
//		filter.Kinds(semevent.KindFileWrite, semevent.KindFileCreate),
//		filter.PathPrefix("/data/"),
//		filter.SizeRange(4096, 1<<30),
//	)
//
// [PathGlob] matches paths with '*', '?', classes and '**'; [AttrEquals],
// [Tenants], [Boundaries], [PriorityAtLeast] and [PriorityBetween] cover the
// other fields; [And], [Or] and [Not] combine.
//
// [Compile] compiles an expr condition (github.com/expr-lang/expr) over
// [Env], the event's fields by name:
//
//	x, err := filter.Compile(`Kind == "write" && Size > 4096 && Path startsWith "/data/"`, nil)
//
// Conditions made of comparisons, boolean logic, startsWith, endsWith,
// contains, matches, in, len, integer arithmetic and Attr("key") run as Go
// closures (a few nanoseconds); anything else runs on the expr VM with a
// pooled VM per call. [Expr.Closure] says which path a condition took. A
// condition on closures keeps no VM program (nor its syntax tree): about
// 360 bytes of heap with the rule that holds it, against 1.9 KB with the
// program (TestClosureExprKeepsNoProgram; automation/rules'
// TestDistinctExprRulesMemory measures 1M distinct conditions).
//
// [TimeRange] and [TimeOfDay] select by event time; [NewRateLimit] passes
// events while a per-key token bucket has tokens; [NewSample] passes one in
// N. [NewChain] combines filters sequentially or, for expensive filters, in
// parallel. [NewCache] remembers the answers of a deterministic filter,
// keyed by the fields it reads ([FieldReader]).
//
// # Concurrency
//
// Every Filter in this package is safe for concurrent use and never
// modifies or retains the event. Typed builders, closure-compiled
// conditions and [Cache] hits do not allocate. [RateLimit] and [Sample]
// are stateful: each Match changes their state, so they must not be
// cached or evaluated speculatively.
//
// # Errors
//
// [Compile] returns an *[ExprError] with line, column and byte offset for
// syntax and type errors, and one wrapping [ErrNotBool] for a condition
// that is not boolean. [PathGlob] returns a *[PatternError] with the byte
// position. Options structs have a Validate method; constructors return the
// *[semevent.OptionsError] it produces, listing every problem, wrapping
// [semevent.ErrInvalidOptions]. Nothing in this package panics on bad input except
// the Must functions.
//
// # Testing
//
// Package filtertest provides a recording filter, a deterministic event
// generator and filtertest.TestFilter, a conformance check for Filter
// implementations (no mutation, concurrency safety, honest Fields).
package filter
