// Package cep is complex event processing over event time: it runs a
// fixed set of patterns — [Sequence] (strict "next" or relaxed
// "followed-by" contiguity), [Count], [Absence] and [Repeat] — over the
// events given to [Engine.Handle], per key, and publishes a
// semevent.KindPatternMatched event for each match.
//
// # Usage
//
//	eng, err := cep.New([]cep.Pattern{
//		&cep.Count{Name: "mass-delete", Key: semevent.PIDKey,
//			Stage: cep.Stage{Kind: semevent.KindFileDelete},
//			Min: 101, Within: time.Second},
//	}, &cep.Options{Publisher: bus})
//	defer eng.Close(ctx)
//	sub, err := bus.Subscribe(eng, nil) // an Engine is a semevent.Handler
//
// Each pattern is keyed by a semevent.KeyFunc (nil: semevent.PathKey;
// semevent.PIDKey, semevent.TenantKey and [AttrValueKey] are others) and
// bounded by a Within duration of event time. Keys are per tenant by
// construction: the engine sets Key.Tenant to the event's tenant whatever
// the KeyFunc returned, so events of different tenants never share a
// partial match, a count, a pending absence or a run, and a match never
// names another tenant's event as a cause. A match is published as an
// event of kind semevent.KindPatternMatched whose Cause is the last
// causing event, whose Data holds every causing event's ID (decode with
// [CausingIDs]) and whose attributes name the pattern ([AttrPattern]) and
// key ([AttrKey]); it copies Tenant, Path and PID from the last causing
// event. Give stages a Kind or Topic: they index the pattern, which is
// what lets a thousand patterns share one event stream.
//
// # Event time
//
// Time is event time: the watermark is the largest event Time seen, or a
// later time given to [Engine.Advance]; Absence and Repeat fire when it
// passes their deadline. The watermark is shared by every key and tenant,
// so an event more than Options.MaxFuture (default [DefaultMaxFuture], one
// minute) ahead of the processing clock is refused, counted in
// Stats.Future and handed to Options.OnFuture: one tenant's far-future
// event cannot blind another tenant's patterns. (Package analytics makes
// the same choice with the same option names.) Time arithmetic saturates
// at the ends of int64 instead of wrapping.
//
// # Memory
//
// Every per-key structure is capped. Partial matches expire with their
// window (swept once per shortest Within of event time); each pattern
// holds state for at most Options.MaxKeys keys (default
// [DefaultMaxKeys], 65,536), a new key beyond it evicting another's
// state at random, counted in Stats.KeysEvicted; and each key of each
// pattern holds at most Options.MaxPartialsPerKey partial matches or
// pending timers (default 1,024), the oldest evicted and counted in
// Stats.Evicted (a Count buffers fewer than its Min events). A key with a
// few partials costs about 350 bytes plus its key string: 500,000
// distinct 30-byte paths fed to a Count pattern within its window hold
// 22 MiB under the default cap (TestCEPMemoryCappedByMaxKeys checks the
// growth stays under MaxKeys × 400 B), against 125 MiB without it.
// Emptied per-key states are kept for reuse, at most 4,096 per pattern,
// and so are emptied key entries, at most 4,096 per engine: steady
// traffic allocates nothing but its matches.
//
// # Cost per event
//
// An event's key is looked up once (one map lookup per distinct key the
// event's patterns compute, usually one), and every pattern the event's
// kind or topic wakes finds its state for that key in the key's own small
// table, where the patterns of one topic sit next to each other. Absence
// and Repeat deadlines wait in one FIFO queue per distinct Within (event
// time never goes back, so they arrive in order), not in a heap entry
// each. An event that completes no match allocates nothing
// (TestCEPNoAllocsWithoutMatches); each match takes its event (one
// 384-byte block with its attributes and up to three causing IDs) from a
// slab of 16 allocated at once — blocks are never reused, since the
// publisher owns the events it is given, so a slab stays in memory while
// any of its matches does — and the matches of one call share one
// publish deadline. BenchmarkCEPScalePaired measures a thousand patterns
// against a naive map-based matcher that builds the same match events
// (TestCEPScaleBaselineAgrees compares them), in one run.
//
// # Concurrency
//
// An [Engine] is safe for concurrent use: Handle serialises on one mutex
// and publishes matches after releasing it, the publishes of one call
// bounded by Options.PublishTimeout, so an engine subscribed to the bus it
// publishes to cannot wait for itself forever. It starts no goroutines.
//
// # Errors
//
// [New] returns *semevent.OptionsError for invalid [Options] and
// *automation.RuleError (wrapping automation.ErrBadRule) for each invalid
// pattern, joined. Handle and Advance return the publisher's errors, and
// automation.ErrClosed after [Engine.Close].
package cep
