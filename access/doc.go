// Package access enforces who may publish, subscribe to, replay and
// administer events, inside the library, and records what it decides in a
// tamper-evident audit trail (package access/audit).
//
// # Usage
//
//	az, err := access.New(&access.Policy{Roles: []access.Role{
//		{Name: "reader", Grants: []access.Grant{
//			{Ops: []access.Op{access.OpSubscribe, access.OpReplay}, Topics: []string{"fs.>"}},
//			{Deny: true, Ops: []access.Op{access.OpSubscribe}, Paths: []string{"/secret/**"}},
//		}},
//		{Name: "writer", Grants: []access.Grant{{Ops: []access.Op{access.OpPublish}, Paths: []string{"/data/**"}}}},
//	}}, &access.Options{Audit: auditLog})
//
//	bus, err := propagation.New(&propagation.Options{Authorizer: az})
//	ctx = access.WithPrincipal(ctx, &access.Principal{User: "ingest", Tenant: "acme", Roles: []string{"writer"}})
//	err = bus.Publish(ctx, ev) // refused with a *DeniedError unless allowed
//	sub, err := bus.Subscribe(h, &propagation.SubscribeOptions{Principal: alice})
//	// sub receives only the events alice may see, decided per event.
//
// # Decisions
//
// A decision looks at the principal (from the context, or
// SubscribeOptions.Principal), the operation and the event:
//
//  1. no principal: denied (ErrNoPrincipal);
//  2. a principal bound to a tenant sees and publishes only that tenant's
//     events — tenant isolation holds whatever the roles say — and may
//     not publish the topics the library reserves for its own records
//     ([ReservedTopic]: "audit.>", "automation.workflow.record"), which
//     any other principal publishes only under an allow grant whose topic
//     pattern names them ("audit.>"), not under a grant on every topic;
//  3. an unknown role: denied (ErrUnknownRole), wherever it is in the
//     principal's list;
//  4. the grants of the principal's roles that name the operation and
//     whose topic patterns, path globs and When condition match the event
//     apply: any deny wins, else any allow allows, else denied.
//
// Topic patterns have NATS semantics ("*" one token, ">" the rest), paths
// are globs with "**", and When is an expr condition over `event` and
// `principal`. Globs and conditions see the path cleaned (path.Clean):
// "/data/../secret/k", "//secret/k" and "/./secret/k" are "/secret/k", so
// no spelling of a path escapes a grant; a path that is relative once
// cleaned ("../etc/passwd") is denied whenever a grant names paths. A
// condition that fails at run time (an index out of range…) is counted
// ([Stats].ConditionErrors): a failing deny condition denies (fail
// closed) and the denial is audited; a failing allow condition does not
// allow.
//
// A [Principal] is read when it is used: [Authorizer.Authorize] and
// [Authorizer.Check] decide on its fields as they are at the call, while a
// subscription keeps a copy taken when it subscribed, so changing a
// principal's roles in place afterwards does not change what the
// subscription receives (subscribe again for that).
//
// # Where it is enforced
//
// With propagation.Options.Authorizer: Publish and PublishBatch (OpPublish),
// Subscribe (the principal must hold some allow grant for OpSubscribe, or
// OpReplay for a replaying subscription) and every delivery, live or
// replayed (per event, so a subscription never receives an event its
// principal may not see). Administrative changes go through
// [Authorizer.Guard], which checks OpAdmin on "admin.<target>" and audits
// the outcome. Every target it guards is global, so a principal bound to
// a tenant is refused whatever its grants: global administration needs a
// principal bound to no tenant. [Authorizer.SetPolicy] uses it, and
// passing az.Guard as the Guard option of routing.Options (rule reloads),
// automation/rules.Options
// (rule reloads), coord.Options and coord/raft.Options (membership changes)
// makes those packages refuse any change whose context does not carry an
// admin. [Authorizer.AuthorizeWorkflow] as automation.ExecutorOptions.Authorize
// checks OpRunWorkflow on "workflow.<name>" before Executor.Start.
//
// # Performance
//
// Decisions are cached per (principal, operation, topic) and dropped with
// the policy when it changes. The bus keeps a [Checker] per subscription:
// a delivery check is a tenant comparison and a lookup by topic, plus path
// globs and conditions only for the grants that have them.
//
// # Audit
//
// Every denial of a publish, subscription or replay is audited, as is every
// administrative operation, allowed or not; with Options.AuditAllowed, so
// is every allowed publish. Per-delivery denials are counted
// (SubscriptionStats.Denied) and the first per topic and per foreign
// tenant of each subscription is audited, up to Options.MaxAuditedKeys
// keys per subscription (default 1024; past it one record says so and
// further keys are counted in [Stats].UnauditedDenials), so a subscription
// cannot flood the trail. Those per-delivery records go through
// audit.Log.Enqueue, off the delivering goroutine: a slow trail never
// delays deliveries, and a full queue drops records and counts them
// (audit.Stats.Dropped).
//
// # Bounded state
//
// The shared decision cache holds Options.CacheSize entries (default
// 65536); each [Checker] holds Options.CheckerCacheSize topics (default
// 4096; emptied when full, evictions counted in [Stats].CheckerEvictions)
// and MaxAuditedKeys audited keys, whatever topics and tenants an attacker
// publishes.
//
// # Concurrency
//
// An [Authorizer]'s methods may be called concurrently. A [Checker] is for
// one goroutine (Denied may be read from any).
//
// # Errors
//
// Denials are *[DeniedError] values wrapping [ErrDenied] (and
// [ErrNoPrincipal] or [ErrUnknownRole] when that is the cause). An invalid
// policy is a *[PolicyError] listing every problem as a *[GrantError] with
// the role, grant, field and byte position; it is never half applied.
package access
