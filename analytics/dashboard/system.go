package dashboard

import (
	"slices"

	"github.com/vexfs/semevent/propagation"
)

// The system panels show the running pipeline next to the analytics: bus
// subscriptions (from Options.Bus), the journal, the cluster, automation
// and capture. Each appears on the page once its source is wired. The
// sources are plain functions returning the types below, so that the
// dashboard imports none of the packages it shows (a FUSE server's
// dashboard need not link the Raft library): wire them with a few lines
// from the components' Stats methods, as examples/dashboard does.

// SubscriptionRow is one bus subscription.
type SubscriptionRow struct {
	Name      string `json:"name"`
	Matched   uint64 `json:"matched"`
	Delivered uint64 `json:"delivered"`
	// Dropped by reason: full (DropNewest), evicted (DropOldest),
	// unsubscribed, closed.
	Dropped map[string]uint64 `json:"dropped"`
	Errors  uint64            `json:"errors"`
	Depth   int               `json:"depth"` // events waiting: the subscription's lag
}

// JournalPanel is what Options.Journal reports.
type JournalPanel struct {
	Bytes      int64         `json:"bytes"`    // size of the segments on disk
	Segments   int           `json:"segments"` // segment files
	NextOffset uint64        `json:"next_offset"`
	Consumers  []ConsumerLag `json:"consumers"`
}

// ConsumerLag is one durable consumer: its committed offset and how far
// behind the journal's end it is.
type ConsumerLag struct {
	Name   string `json:"name"`
	Offset uint64 `json:"offset"`
	Lag    uint64 `json:"lag"`
}

// ClusterPanel is what Options.Cluster reports.
type ClusterPanel struct {
	Node   string        `json:"node"` // this node
	Shards []ShardStatus `json:"shards"`
	Peers  []PeerStatus  `json:"peers"`
}

// ShardStatus is one replicated shard.
type ShardStatus struct {
	ID        uint64   `json:"id"`
	Leader    string   `json:"leader"` // "" while there is none
	Members   []string `json:"members"`
	Observers []string `json:"observers"`
	Applied   uint64   `json:"applied"` // this node's applied index
	Lag       uint64   `json:"lag"`     // commit index minus applied index
}

// PeerStatus is the failure detector's view of one peer.
type PeerStatus struct {
	Node string  `json:"node"`
	Phi  float64 `json:"phi"` // suspicion; NaN or +Inf are drawn as "–"
	Up   bool    `json:"up"`
}

// AutomationPanel is what Options.Automation reports.
type AutomationPanel struct {
	Rules            []RuleHits `json:"rules"`
	WorkflowsRunning uint64     `json:"workflows_running"`
	WorkflowsFailed  uint64     `json:"workflows_failed"`
	WorkflowsDone    uint64     `json:"workflows_done"`
	OpenBreakers     []string   `json:"open_breakers"`
}

// RuleHits is one rule and how often it fired.
type RuleHits struct {
	Name string `json:"name"`
	Hits uint64 `json:"hits"`
}

// CapturePanel is what Options.Capture reports: the FUSE bridge's and the
// kernel watcher's counters.
type CapturePanel struct {
	FUSEOps     uint64 `json:"fuse_ops"`     // operations the bridge saw, a counter
	WatcherMode string `json:"watcher_mode"` // "fanotify", "inotify" or "" without a watcher
	Overflows   uint64 `json:"overflows"`    // kernel queue overflows the watcher saw
	Events      uint64 `json:"events"`       // events the watcher emitted, a counter
}

// CaptureView is the capture panel as drawn: the latest counters and the
// FUSE operations per second over time.
type CaptureView struct {
	CapturePanel
	OpsPerSec []Sample `json:"ops_per_sec"`
}

// subscriptionRows turns the bus's subscriptions into rows, deepest
// backlog first, at most 20.
func subscriptionRows(s propagation.Stats) []SubscriptionRow {
	rows := make([]SubscriptionRow, 0, len(s.Subscriptions))
	for _, sub := range s.Subscriptions {
		rows = append(rows, SubscriptionRow{Name: sub.Name, Matched: sub.Matched, Delivered: sub.Delivered,
			Errors: sub.Errors, Depth: sub.Depth, Dropped: map[string]uint64{
				"full": sub.Dropped.Full, "evicted": sub.Dropped.Evicted,
				"unsubscribed": sub.Dropped.Unsubscribed, "closed": sub.Dropped.Closed,
			}})
	}
	slices.SortStableFunc(rows, func(a, b SubscriptionRow) int { return b.Depth - a.Depth })
	return rows[:min(len(rows), 20)]
}
