package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vexfs/semevent/analytics/dashboard"
	"github.com/vexfs/semevent/propagation"
)

// systemSources returns one source of each system panel, with counters
// that move between calls, and a clock that advances one second per call.
func systemSources() (*dashboard.Options, *atomic.Uint64) {
	var ops atomic.Uint64
	now := time.Unix(1000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	return &dashboard.Options{
		Title: "system", Interval: time.Hour,
		Now: func() time.Time { return time.Unix(0, clock.Add(int64(time.Second))) },
		Bus: func() propagation.Stats {
			return propagation.Stats{Published: 10, Subscriptions: []propagation.SubscriptionStats{
				{Name: "indexer", Matched: 7, Delivered: 5, Depth: 2, Dropped: propagation.DropStats{Full: 3}},
				{Name: "audit", Matched: 9, Delivered: 9},
			}}
		},
		Journal: func() dashboard.JournalPanel {
			return dashboard.JournalPanel{Bytes: 5 << 20, Segments: 3, NextOffset: 1200,
				Consumers: []dashboard.ConsumerLag{{Name: "acme-indexer", Offset: 1100, Lag: 100}}}
		},
		Cluster: func() dashboard.ClusterPanel {
			return dashboard.ClusterPanel{Node: "n1",
				Shards: []dashboard.ShardStatus{{ID: 1, Leader: "n2", Members: []string{"n1", "n2", "n3"}, Applied: 40, Lag: 2}},
				Peers:  []dashboard.PeerStatus{{Node: "n2", Phi: 0.4, Up: true}, {Node: "n3", Phi: math.Inf(1)}}}
		},
		Automation: func() dashboard.AutomationPanel {
			return dashboard.AutomationPanel{Rules: []dashboard.RuleHits{{Name: "alert-tmp", Hits: 12}},
				WorkflowsRunning: 2, WorkflowsFailed: 1, OpenBreakers: []string{"webhook"}}
		},
		Capture: func() dashboard.CapturePanel {
			return dashboard.CapturePanel{FUSEOps: ops.Add(500), WatcherMode: "fanotify", Overflows: 1}
		},
	}, &ops
}

// Each system panel is in the snapshot exactly when its source is wired,
// with the source's numbers; the FUSE counter becomes a rate.
func TestSystemPanels(t *testing.T) {
	bare, err := dashboard.New(&dashboard.Options{Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close(context.Background())
	b, _ := json.Marshal(bare.Snapshot())
	for _, k := range []string{"subscriptions", "journal", "cluster", "automation", "capture"} {
		if strings.Contains(string(b), `"`+k+`"`) {
			t.Errorf("unwired dashboard's snapshot has %q: %s", k, b)
		}
	}

	opts, _ := systemSources()
	d, err := dashboard.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	d.Sample() // New sampled once: two samples give one rate
	srv := httptest.NewServer(d)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var s struct {
		Subscriptions []dashboard.SubscriptionRow
		Journal       *dashboard.JournalPanel
		Cluster       *dashboard.ClusterPanel
		Automation    *dashboard.AutomationPanel
		Capture       *dashboard.CaptureView
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("snapshot %s: %v", body, err)
	}
	if len(s.Subscriptions) != 2 || s.Subscriptions[0].Name != "indexer" || s.Subscriptions[0].Dropped["full"] != 3 || s.Subscriptions[0].Depth != 2 {
		t.Errorf("subscriptions = %+v, want indexer (deepest) first with 3 full drops and lag 2", s.Subscriptions)
	}
	if j := s.Journal; j == nil || j.Segments != 3 || len(j.Consumers) != 1 || j.Consumers[0].Lag != 100 {
		t.Errorf("journal = %+v", j)
	}
	if c := s.Cluster; c == nil || len(c.Shards) != 1 || c.Shards[0].Leader != "n2" || len(c.Peers) != 2 || c.Peers[1].Phi != -1 {
		t.Errorf("cluster = %+v, want shard 1 led by n2 and n3's infinite phi sent as -1", c)
	}
	if a := s.Automation; a == nil || a.Rules[0].Hits != 12 || a.WorkflowsFailed != 1 || a.OpenBreakers[0] != "webhook" {
		t.Errorf("automation = %+v", a)
	}
	if c := s.Capture; c == nil || c.WatcherMode != "fanotify" || len(c.OpsPerSec) != 1 || c.OpsPerSec[0].V != 500 {
		t.Errorf("capture = %+v, want fanotify and one rate of 500 ops/s", c)
	}
}
