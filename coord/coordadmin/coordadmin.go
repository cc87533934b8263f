// Package coordadmin serves a coordinator's view of its cluster over HTTP
// as JSON — shards with their leader, term and applied index, members, and
// the failure detector's phi per peer — and fetches it back. It is the
// admin endpoint `semevent cluster status` reads.
//
// # Usage
//
//	mux.Handle("GET /admin/status", coordadmin.Handler(c)) // c: a coord/raft Coordinator, or any coord.Coordinator
//
//	st, err := coordadmin.Fetch(ctx, nil, "http://node1:8080/admin/status")
//
// The endpoint is read-only and reveals the cluster's layout (member
// addresses included): mount it where only operators reach it, behind
// whatever authentication the host program uses.
//
// # Errors
//
// Fetch returns a *[FetchError] naming the URL for an unreachable node, a
// status other than 200, or a body that is not a status.
package coordadmin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/vexfs/semevent/coord"
)

// Status is one node's view of its cluster.
type Status struct {
	Node    uint64   `json:"node"`
	Healthy bool     `json:"healthy"` // every shard has a leader and no peer is suspected
	Shards  []Shard  `json:"shards"`
	Peers   []Peer   `json:"peers"`
	Members []Member `json:"members"`
	// MembersError says why Members is empty, when listing them failed
	// (no quorum, for instance); the rest of the status still holds.
	MembersError string    `json:"members_error,omitempty"`
	Time         time.Time `json:"time"` // when the node answered
}

// Shard is one shard as the node sees it.
type Shard struct {
	Shard   int    `json:"shard"`
	Leader  uint64 `json:"leader"` // 0: no leader known
	Term    uint64 `json:"term"`
	Applied uint64 `json:"applied"` // the index of the last record this node applied
	Members int    `json:"members"`
	// Observers lists the shard's non-voting replicas (they follow the
	// log but never vote).
	Observers []uint64 `json:"observers,omitempty"`
}

// Peer is the failure detector's opinion of another node.
type Peer struct {
	Node uint64 `json:"node"`
	// Phi is the suspicion level; nil when it is infinite (no heartbeat
	// for far longer than the detector expects) or not a number.
	Phi       *float64   `json:"phi"`
	Suspected bool       `json:"suspected"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
}

// Member is one voting member.
type Member struct {
	ID   uint64 `json:"id"`
	Addr string `json:"addr"`
}

// MaxStatusBytes bounds the body Fetch reads.
const MaxStatusBytes = 4 << 20

// Handler serves c's status as JSON to GET and HEAD requests. Each request
// asks c for its health and members (bounded by the request's context).
func Handler(c coord.Coordinator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		st := Collect(r.Context(), c)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(st)
	})
}

// Collect gathers c's status.
func Collect(ctx context.Context, c coord.Coordinator) *Status {
	h := c.Health(ctx)
	st := &Status{Node: h.Node, Healthy: h.Healthy, Shards: []Shard{}, Peers: []Peer{}, Members: []Member{}, Time: time.Now().UTC()}
	for _, s := range h.Shards {
		st.Shards = append(st.Shards, Shard{Shard: s.Shard, Leader: s.Leader, Term: s.Term, Applied: s.Applied, Members: s.Members, Observers: s.Observers})
	}
	for _, p := range h.Peers {
		pe := Peer{Node: p.Node, Suspected: p.Suspected}
		if !math.IsInf(p.Phi, 0) && !math.IsNaN(p.Phi) {
			phi := p.Phi
			pe.Phi = &phi
		}
		if !p.LastSeen.IsZero() {
			t := p.LastSeen.UTC()
			pe.LastSeen = &t
		}
		st.Peers = append(st.Peers, pe)
	}
	ms, err := coord.Members(ctx, c)
	if err != nil {
		st.MembersError = err.Error()
	}
	for _, m := range ms {
		st.Members = append(st.Members, Member{ID: m.ID, Addr: m.Addr})
	}
	return st
}

// FetchError reports a status that could not be fetched from URL.
type FetchError struct {
	URL    string
	Reason string
	Err    error // the cause, if any
}

func (e *FetchError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("coordadmin: %s: %s: %v", e.URL, e.Reason, e.Err)
	}
	return fmt.Sprintf("coordadmin: %s: %s", e.URL, e.Reason)
}

// Unwrap returns the cause.
func (e *FetchError) Unwrap() error { return e.Err }

// Fetch reads a Status from a Handler at url. A nil client means
// http.DefaultClient; ctx bounds the request.
func Fetch(ctx context.Context, client *http.Client, url string) (*Status, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &FetchError{URL: url, Reason: "bad URL", Err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &FetchError{URL: url, Reason: "unreachable", Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &FetchError{URL: url, Reason: "HTTP " + resp.Status}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxStatusBytes+1))
	if err != nil {
		return nil, &FetchError{URL: url, Reason: "reading the body", Err: err}
	}
	if len(body) > MaxStatusBytes {
		return nil, &FetchError{URL: url, Reason: fmt.Sprintf("status larger than %d bytes", MaxStatusBytes)}
	}
	return Decode(url, body)
}

// Decode parses a status body; url names its origin in errors.
func Decode(url string, body []byte) (*Status, error) {
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, &FetchError{URL: url, Reason: "not a status", Err: err}
	}
	if st.Node == 0 || st.Shards == nil {
		return nil, &FetchError{URL: url, Reason: "not a status (no node or shards)"}
	}
	return &st, nil
}
