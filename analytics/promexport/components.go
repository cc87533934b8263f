package promexport

import (
	"slices"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/automation"
	"github.com/vexfs/semevent/automation/cep"
	"github.com/vexfs/semevent/automation/rules"
	"github.com/vexfs/semevent/fusebridge"
)

// The first-class sources of the capture and automation components. Each
// exports every field of the component's Stats, with its meaning as help
// text; TestComponentSourcesExportEveryField fails when a Stats struct
// gains a field that is not exported here.

func collectBridge(e emitter, s fusebridge.Stats) {
	e.counter("queued_total", "FUSE events accepted into the bridge's queue, less those evicted.", s.Queued)
	e.counter("published_total", "FUSE events the bridge's Publisher accepted.", s.Published)
	e.counter("dropped_total", "FUSE events not queued: the queue was full (DropNewest, or Block past BlockTimeout) or the bridge was closed.", s.Dropped)
	e.counter("evicted_total", "FUSE events removed from a full queue by DropOldest.", s.Evicted)
	e.counter("failed_total", "FUSE events the Publisher rejected (a closed bus, a refused principal).", s.Failed)
	kinds := make([]semevent.Kind, 0, len(s.Ops))
	for k := range s.Ops {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		e.counter("ops_total", "FUSE operations that made an event, by the event's kind.", s.Ops[k], "kind", k.String())
	}
	e.gauge("backlog", "Events in the bridge's queue now.", float64(s.Backlog))
	e.counter("pid_cache_resets_total", "Times the thread-to-process cache was cleared because it reached its cap.", s.PIDCacheResets)
}

func collectWatcher(e emitter, s fusebridge.WatcherStats) {
	e.gauge("fanotify", "1 when the kernel watcher uses fanotify, 0 when it fell back to inotify.", b2f(s.Mode == fusebridge.Fanotify))
	e.counter("records_total", "Kernel records the watcher decoded.", s.Records)
	e.counter("published_total", "Kernel events the watcher published.", s.Published)
	e.counter("failed_total", "Kernel events the Publisher rejected.", s.Failed)
	e.counter("ignored_total", "Kernel records dropped on purpose: outside the tree, the FUSE server's own fix-ups, unwanted kinds.", s.Ignored)
	e.counter("overflows_total", "Kernel queue overflows: events were lost, how many is unknown.", s.Overflows)
	e.counter("malformed_total", "Kernel records that did not decode (the rest of their read was skipped).", s.Malformed)
	e.gauge("watched_dirs", "Directories the watcher watches now.", float64(s.Dirs))
}

func collectCEP(e emitter, s cep.Stats) {
	e.counter("events_total", "Events the CEP engine handled.", s.Events)
	e.counter("matches_total", "Pattern matches the CEP engine emitted.", s.Matches)
	e.counter("partials_evicted_total", "Partial matches evicted because a key reached MaxPartialsPerKey.", s.Evicted)
	e.counter("keys_evicted_total", "Keys whose CEP state was evicted because a pattern reached MaxKeys.", s.KeysEvicted)
	e.counter("late_events_total", "Events older than the CEP watermark (processed at the watermark).", s.Late)
	e.counter("future_events_total", "Events the CEP engine refused for being more than MaxFuture ahead of its clock.", s.Future)
	e.gauge("partials", "Partial matches and pending timers the CEP engine holds now.", float64(s.Partials))
}

func collectRules(e emitter, s rules.Stats) {
	e.counter("events_total", "Events the rule engine handled.", s.Events)
	e.counter("evaluations_total", "Rule conditions the rule engine evaluated.", s.Evaluations)
	e.counter("fired_total", "Rules that fired.", s.Fired)
	e.counter("action_errors_total", "Rule actions that returned an error.", s.ActionErrors)
	e.counter("reloads_total", "Rule sets the rule engine loaded.", s.Reloads)
	e.counter("reload_errors_total", "Rule sets the rule engine rejected (the active set stayed).", s.ReloadErrors)
	e.gauge("rules", "Rules active now.", float64(s.Rules))
}

func collectExecutor(e emitter, s automation.ExecutorStats) {
	for _, o := range []struct {
		outcome string
		n       uint64
	}{{"succeeded", s.Succeeded}, {"failed", s.Failed}, {"compensation_failed", s.CompensationFailed}, {"cancelled", s.Cancelled}, {"abandoned", s.Abandoned}} {
		e.counter("executions_finished_total", "Workflow executions that ended, by outcome (abandoned: stopped by Close or a store failure, resumed on restart).", o.n, "outcome", o.outcome)
	}
	e.counter("executions_started_total", "Workflow executions Start accepted.", s.Started)
	e.counter("executions_resumed_total", "Workflow executions resumed from the store after a restart.", s.Resumed)
	e.counter("executions_rejected_total", "Start calls a tenant quota refused.", s.Rejected)
	e.counter("step_retries_total", "Workflow step attempts after the first.", s.Retries)
	e.counter("compensations_total", "Compensations that succeeded.", s.Compensations)
	e.counter("inbox_dropped_total", "Events a full Listener inbox did not keep.", s.InboxDropped)
	e.counter("tenant_queues_freed_total", "Idle per-tenant executor queues freed.", s.TenantsFreed)
	e.counter("relayed_total", "Committed step events that recovery published again (transactional outbox).", s.Relayed)
	e.counter("finished_ids_forgotten_total", "IDs of ended executions forgotten beyond MaxFinished.", s.FinishedForgotten)
	e.gauge("tenant_queues", "Per-tenant executor queues held now: tenants with queued or running executions.", float64(s.Tenants))
	e.gauge("executions_running", "Workflow executions running now.", float64(s.Running))
	e.gauge("executions_queued", "Workflow executions waiting for a slot now.", float64(s.Queued))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// componentNames lists the metric names of the first-class component
// sources under the default namespace.
func componentNames() []string {
	var out []string
	add := func(prefix string, names ...string) {
		for _, n := range names {
			out = append(out, "semevent_"+prefix+n)
		}
	}
	add("fuse_bridge_", "queued_total", "published_total", "dropped_total", "evicted_total", "failed_total",
		"ops_total", "backlog", "pid_cache_resets_total")
	add("fuse_watcher_", "fanotify", "records_total", "published_total", "failed_total", "ignored_total",
		"overflows_total", "malformed_total", "watched_dirs")
	add("cep_", "events_total", "matches_total", "partials_evicted_total", "keys_evicted_total", "late_events_total",
		"future_events_total", "partials")
	add("rules_", "events_total", "evaluations_total", "fired_total", "action_errors_total", "reloads_total",
		"reload_errors_total", "rules")
	add("workflow_", "executions_finished_total", "executions_started_total", "executions_resumed_total",
		"executions_rejected_total", "step_retries_total", "compensations_total", "inbox_dropped_total",
		"tenant_queues_freed_total", "relayed_total", "finished_ids_forgotten_total", "tenant_queues", "executions_running", "executions_queued")
	return out
}
