package raft

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		is   error  // errors.Is target, nil for an *semevent.OptionsError
		want string // in the message
	}{
		{"missing everything", Options{}, nil, "Node"},
		{"not a member", Options{Node: 4, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1", 2: "127.0.0.1:2"}}, coord.ErrMembership, "not among Members"},
		{"shared address", Options{Node: 1, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1", 2: "127.0.0.1:1"}}, coord.ErrDuplicateNode, "share address"},
		{"bad address", Options{Node: 1, Dir: "d", Members: map[uint64]string{1: "nope"}}, nil, "Members[1]"},
		{"join without address", Options{Node: 5, Dir: "d", Join: true}, nil, "Addr"},
		{"election too short", Options{Node: 1, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1"}, ElectionRTT: 2, HeartbeatRTT: 1}, nil, "ElectionRTT"},
		{"shards", Options{Node: 1, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1"}, Shards: -1}, nil, "Shards"},
		{"observer without join", Options{Node: 4, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1"}, Observer: true}, nil, "Observer"},
		{"attempt timeout", Options{Node: 1, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1"}, AttemptTimeout: time.Millisecond}, nil, "AttemptTimeout"},
		{"tls", Options{Node: 1, Dir: "d", Members: map[uint64]string{1: "127.0.0.1:1"}, TLS: &TLS{CAFile: "x"}}, nil, "TLS"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if err == nil {
			t.Errorf("%s: Validate = nil", tt.name)
			continue
		}
		var oe *semevent.OptionsError
		if tt.is != nil && !errors.Is(err, tt.is) || tt.is == nil && !errors.As(err, &oe) {
			t.Errorf("%s: Validate = %v, want %v", tt.name, err, tt.is)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want it to mention %q", tt.name, err, tt.want)
		}
		if _, err2 := New(&tt.o); err2 == nil {
			t.Errorf("%s: New succeeded", tt.name)
		}
	}
	var oe *semevent.OptionsError
	if err := (&Options{}).Validate(); !errors.As(err, &oe) || len(oe.Problems) < 3 {
		t.Errorf("Validate of empty options = %v, want every problem listed", err)
	}
}

// TestStartWithoutQuorumFails starts one node of a three-node cluster
// whose other members never come: New fails within StartTimeout with an
// error naming the problem, instead of hanging.
func TestStartWithoutQuorumFails(t *testing.T) {
	dir := t.TempDir()
	members := map[uint64]string{}
	for i := range 3 {
		members[uint64(i+1)] = "127.0.0.1:" + itoa(freePort(t))
	}
	_, err := New(&Options{Node: 1, Dir: filepath.Join(dir, "n1"), Members: members, StartTimeout: 2 * time.Second})
	if !errors.Is(err, coord.ErrNoQuorum) {
		t.Fatalf("New = %v, want ErrNoQuorum", err)
	}
	var ne *coord.NodeError
	if !errors.As(err, &ne) || ne.Node != 1 || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("New = %v, want a *NodeError for node 1 saying there is no leader", err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
