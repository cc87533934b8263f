// Package routing decides where events go: a [Router] maps each event to
// the names of its destinations (subscriptions, propagators, remote nodes),
// and [Table] is the default implementation, driven by a [RuleSet].
//
// # Usage
//
// A rule matches when every condition it sets holds: a NATS-style subject
// pattern over the event's topic ("tenant.*.fs.file.write", "fs.>"), a path
// glob ("/data/**/*.log"), literal content patterns over the path,
// attribute values or payload, and an expr condition or [filter.Filter]:
//
//	tab, err := routing.New(&routing.RuleSet{
//		Groups: []routing.Group{{Name: "indexers", Members: []string{"idx-1", "idx-2"}, Strategy: routing.Hash}},
//		Rules: []routing.Rule{
//			{Name: "audit", Subject: "tenant.*.fs.file.delete", To: []string{"audit"}},
//			{Name: "logs", Subject: "tenant.acme.fs.>", Path: "/data/**/*.log", To: []string{"indexers"}},
//			{Name: "dlp", Contains: []string{"BEGIN PRIVATE KEY"}, In: []string{"data"}, To: []string{"dlp"}},
//			{Name: "big", Subject: "fs.file.write", When: "Size > 1048576", To: []string{"cold-storage"}},
//		},
//	}, nil)
//	dests = tab.Route(ev, dests[:0])
//
// Route appends each destination once. A destination that names a
// [Group] is resolved to one member: round-robin, consistent hash of a
// [semevent.Key] (path, tenant, topic, inode or an attribute, always with
// the tenant; or any [Group].KeyFunc) by its [semevent.Key.Hash], or least
// loaded.
//
// Rule sets come from YAML, which also reads JSON ([ParseRuleSet],
// [ReadRuleSet], [Table.LoadFile]); [Watch] polls a file and reloads it
// when it changes, refusing an empty file and a file that others than the
// process's user or root could write, because every reload runs with the
// authority of the context given to Watch; [Watcher.Close] stops it.
//
// Matching cost grows with the number of rules that could match an event,
// not with the number of rules: rules are indexed by their subject tokens
// (a trie), by the literal prefix of their path glob (one hashing pass over
// the path probes every indexed depth) and by their content patterns (one
// Aho-Corasick automaton). The candidate sets are roaring bitmaps
// intersected once per distinct subject and cached, so a decision is a
// cache lookup, the rules tied to that subject, and a few probes of the
// path index. Only rules with neither a subject nor an indexable path nor
// content patterns are checked for every event whose subject they match.
//
// On top of that, a decision cache remembers, per (topic, path) pair seen
// at least twice, the destinations that follow from topic and path alone
// and the few rules whose other conditions (content, expr, filters) must
// still be checked per event; repeated pairs then cost two string hashes
// and a comparison. When no rule of the set has a path glob, no decision
// depends on the path, and the cache is keyed by topic alone: a repeated
// subject costs one string hash, a comparison and the copy of its
// destination names, whatever the path, and reads one slot and two or
// three cache lines of the decision (TestDecisionLayout, TestHitComparesKey).
// Subjects whose rules use content patterns bypass it.
// Options.NoDecisionCache turns it off.
//
// # Concurrency
//
// All methods of [Table] are safe for concurrent use. Route does not
// allocate once the decision for the event's subject is cached (the cache
// holds Options.CacheSize subjects). [Table.Load] compiles the new rule set
// aside and swaps it in atomically: each decision is made wholly by the old
// or wholly by the new rules ([Table.RouteVersion] says which), and no
// decision is lost. The decision cache belongs to the rule set, so a reload
// empties it.
//
// # Errors
//
// An invalid rule set is rejected whole with a *[RuleSetError] that lists
// every problem as a *[RuleError]: the rule or group, the field, the byte
// position in the field where it applies, and the underlying
// *[SubjectError] or *filter.ExprError. The rule set in use keeps running.
// Invalid Options yield an *[semevent.OptionsError] wrapping [semevent.ErrInvalidOptions].
// Route never returns an error: a Rule.Filter that panics is recovered,
// counted ([Table.FilterPanics]) and treated as not matching.
//
// # Testing
//
// Package routingtest provides a fake Router that routes by exact topic and
// records what it saw, and routingtest.TestRouter, a conformance check that
// Table and the fake both pass. A Table built from a small RuleSet is cheap
// and deterministic except for round-robin and least-loaded groups.
// filtertest.Events generates realistic events.
//
// # Wiring into a bus
//
// A bus dispatcher keeps one []string per dispatcher goroutine and calls
//
//	buf = router.Route(ev, buf[:0])
//
// then delivers ev to the subscription named by each element of buf.
// Names are stable across reloads; [Table.Destinations] lists the names the
// current rules can produce.
package routing
