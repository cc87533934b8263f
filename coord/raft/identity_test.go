package raft

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordtest"
)

// oneNode starts a one-node cluster on dir at addr.
func oneNode(t *testing.T, dir, addr string, tweak func(*Options)) (*Coordinator, error) {
	t.Helper()
	o := Options{Node: 1, Dir: dir, Members: map[uint64]string{1: addr}, Heartbeat: -1}
	if tweak != nil {
		tweak(&o)
	}
	return New(&o)
}

// TestForeignDirectoryRefused starts nodes on shard directories that are
// not theirs — another deployment's, another node's, one written with
// another shard count, a journal without an identity — and checks that
// New refuses each with a *DirError naming the field (wrapping
// ErrForeignDir, and coord.ErrMembership for the shard count) before
// anything of it is read, let alone mixed in.
func TestForeignDirectoryRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c, err := oneNode(t, dir, addr, func(o *Options) { o.Shards = 2 })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), coordtest.Timeout)
	defer cancel()
	if _, err := c.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/mine"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		field  string
		prep   func(t *testing.T) string // returns the node's Dir
		tweak  func(*Options)
		member bool
	}{
		{"another deployment", "deployment", func(*testing.T) string { return dir }, func(o *Options) { o.Shards, o.DeploymentID = 2, 7 }, false},
		{"fewer shards", "shards", func(*testing.T) string { return dir }, func(o *Options) { o.Shards = 1 }, true},
		{"more shards", "shards", func(*testing.T) string { return dir }, func(o *Options) { o.Shards = 3 }, true},
		{"another node's shard", "node", func(t *testing.T) string {
			other := filepath.Join(t.TempDir(), "n2")
			if err := os.CopyFS(filepath.Join(other, "shards"), os.DirFS(filepath.Join(dir, "shards"))); err != nil {
				t.Fatal(err)
			}
			return other
		}, func(o *Options) { o.Shards, o.Node, o.Members = 2, 2, map[uint64]string{2: o.Members[1]} }, false},
		{"a journal without identity", "identity", func(t *testing.T) string {
			other := filepath.Join(t.TempDir(), "n3")
			if err := os.CopyFS(filepath.Join(other, "shards", "0", journalName), os.DirFS(filepath.Join(dir, "shards", "0", journalName))); err != nil {
				t.Fatal(err)
			}
			return other
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.prep(t)
			_, err := oneNode(t, d, addr, func(o *Options) {
				o.StartTimeout = 5 * time.Second
				if tc.tweak != nil {
					tc.tweak(o)
				}
			})
			var de *DirError
			if !errors.As(err, &de) || de.Field != tc.field || !errors.Is(err, ErrForeignDir) {
				t.Fatalf("New = %v, want a *DirError on %s", err, tc.field)
			}
			if errors.Is(err, coord.ErrMembership) != tc.member {
				t.Errorf("New = %v: wraps ErrMembership %v, want %v", err, !tc.member, tc.member)
			}
		})
	}
	// The rightful node still starts and finds its record.
	c, err = oneNode(t, dir, addr, func(o *Options) { o.Shards = 2 })
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	found := 0
	for s := range 2 {
		recs, err := c.Read(ctx, s, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		found += len(recs)
	}
	if found != 1 {
		t.Fatalf("the node's own directories hold %d records after the refusals, want 1", found)
	}
}
