package coordadmin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/coord"
	"github.com/vexfs/semevent/coord/coordadmin"
	"github.com/vexfs/semevent/coord/raft"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// TestRaftNode serves a real one-node Raft coordinator's status and
// fetches it: the node leads every shard and its applied index counts the
// records appended.
func TestRaftNode(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	c, err := raft.New(&raft.Options{Node: 1, Dir: t.TempDir(), Members: map[uint64]string{1: addr}, Shards: 2})
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Append(ctx, &semevent.Event{Kind: semevent.KindFileCreate, Path: "/a"}, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/a"})
	require.NoError(t, err)

	srv := httptest.NewServer(coordadmin.Handler(c))
	defer srv.Close()
	st, err := coordadmin.Fetch(ctx, srv.Client(), srv.URL)
	require.NoError(t, err)
	require.Equal(t, uint64(1), st.Node)
	require.True(t, st.Healthy)
	require.Len(t, st.Shards, 2)
	var applied uint64
	for i, s := range st.Shards {
		require.Equal(t, i, s.Shard)
		require.Equal(t, uint64(1), s.Leader)
		require.Equal(t, 1, s.Members)
		applied += s.Applied
	}
	require.Equal(t, uint64(2), applied, "applied indexes over the shards")
	require.Equal(t, []coordadmin.Member{{ID: 1, Addr: addr}}, st.Members)
	require.Empty(t, st.MembersError)

	resp, err := srv.Client().Post(srv.URL, "text/plain", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestLocal(t *testing.T) {
	c, err := coord.NewLocal(&coord.Options{Node: 7})
	require.NoError(t, err)
	defer c.Close(context.Background())
	st := coordadmin.Collect(context.Background(), c)
	require.Equal(t, uint64(7), st.Node)
	require.NotEmpty(t, st.Shards)
	require.Equal(t, []coordadmin.Member{{ID: 7}}, st.Members)
}

func TestFetchErrors(t *testing.T) {
	ctx := context.Background()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			http.Error(w, "boom", 500)
		case "/html":
			w.Write([]byte("<html>"))
		case "/empty":
			w.Write([]byte("{}"))
		}
	}))
	defer bad.Close()
	for path, reason := range map[string]string{"/500": "HTTP 500", "/html": "not a status", "/empty": "no node"} {
		_, err := coordadmin.Fetch(ctx, bad.Client(), bad.URL+path)
		var fe *coordadmin.FetchError
		require.True(t, errors.As(err, &fe), "Fetch(%s) = %v", path, err)
		require.Contains(t, err.Error(), bad.URL+path)
		require.Contains(t, err.Error(), reason)
	}
	_, err := coordadmin.Fetch(ctx, nil, "http://"+freeAddr(t)+"/status")
	require.ErrorContains(t, err, "unreachable")
	_, err = coordadmin.Fetch(ctx, nil, "::nope")
	require.ErrorContains(t, err, "bad URL")
}

// FuzzDecode checks that any body decodes or fails with a *FetchError.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"node":1,"healthy":true,"shards":[{"shard":0,"leader":1}],"peers":[{"node":2,"phi":null}]}`))
	f.Add([]byte(`{"node":0}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := coordadmin.Decode("u", body)
		if err != nil {
			var fe *coordadmin.FetchError
			if !errors.As(err, &fe) {
				t.Fatalf("Decode: %v is not a *FetchError", err)
			}
			return
		}
		if st.Node == 0 || st.Shards == nil {
			t.Fatalf("Decode accepted %q", body)
		}
	})
}
