package peerbench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vexfs/semevent"
	"github.com/vexfs/semevent/internal/codec"
)

func init() {
	replicatedContenders = append(replicatedContenders,
		replicatedContender{"hashicorp-bolt", "hashicorp/raft 1.6, 3 nodes in process, loopback TCP transport, raft-boltdb log on disk (fsync per batch), default config; the caller encodes with semevent's codec, the state machine keeps records in memory",
			func(tb testing.TB, dir string) *cluster { return stamping(newHashicorp(tb, dir, true, true)) }},
		replicatedContender{"jetstream", "NATS JetStream (nats-server 2.15), 3 servers clustered in process, stream with Replicas: 3 on file storage, default sync (fsync every 2 min: a quorum holds the event in its page cache when acked); js.Publish with a Msg-Id (exactly-once, as semevent's event ID) waits for the ack; the publishers share one connection to the stream leader's server (faster than 8 or 64)",
			func(tb testing.TB, dir string) *cluster { return newJetStream(tb, dir, false, true) }},
		replicatedContender{"jetstream-nomsgid", "jetstream without Msg-Id: no deduplication, a retried publish may store the event twice (at least once)",
			func(tb testing.TB, dir string) *cluster { return newJetStream(tb, dir, false, false) }},
		replicatedContender{"jetstream-sync", "jetstream with SyncAlways: every write fsynced before it is acked, as the Raft logs of the other rows are",
			func(tb testing.TB, dir string) *cluster { return newJetStream(tb, dir, true, true) }},
	)
}

// stamping makes cl stamp each event with an ID and time before
// appending it, as coord/raft's Append does.
func stamping(cl *cluster) *cluster {
	ids := semevent.NewIDGenerator(1)
	inner := cl.append
	cl.append = func(ctx context.Context, ev *semevent.Event) error {
		ids.Stamp(ev)
		return inner(ctx, ev)
	}
	return cl
}

// jsSubject is the subject the JetStream stream captures.
const jsSubject = "fs.events"

// jsConns is how many connections the 64 publishers share (round robin):
// one, JetStream's best here (paired runs at load ~15: 1 connection
// 6.0k–14.5k events/s and 40–52 µs CPU per event, 8 connections
// 3.6k–10.2k and 52–70 µs, 64 connections 1.3k).
const jsConns = 1

// newJetStream starts three nats-server instances clustered on loopback,
// with JetStream on file storage under dir (fsyncing every write when
// syncAlways), creates a stream with 3 replicas, and publishes through
// connections to the stream leader's server, each event with its ID as
// Msg-Id (deduplicated by the stream) when msgID.
func newJetStream(tb testing.TB, dir string, syncAlways, msgID bool) *cluster {
	const n = 3
	routePorts := make([]int, n)
	var routes string
	for i := range n {
		routePorts[i] = freePort(tb)
		if i > 0 {
			routes += ","
		}
		routes += fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i])
	}
	servers := make([]*server.Server, n)
	var conns []*nats.Conn
	closeAll := func() {
		for _, nc := range conns {
			nc.Close()
		}
		for _, s := range servers {
			if s != nil {
				s.Shutdown()
				s.WaitForShutdown()
			}
		}
	}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprint("n", i+1),
			Host:       "127.0.0.1",
			Port:       -1,
			NoLog:      true,
			NoSigs:     true,
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprint("n", i+1)),
			SyncAlways: syncAlways,
			Cluster:    server.ClusterOpts{Name: "peerbench", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(routes),
		}
		s, err := server.NewServer(opts)
		if err != nil {
			closeAll()
			tb.Fatal(err)
		}
		servers[i] = s
		go s.Start()
	}
	for _, s := range servers {
		if !s.ReadyForConnections(30 * time.Second) {
			closeAll()
			tb.Fatal("nats-server not ready after 30s")
		}
	}
	nc, err := nats.Connect(servers[0].ClientURL())
	if err != nil {
		closeAll()
		tb.Fatal(err)
	}
	conns = append(conns, nc)
	js, err := jetstream.New(nc)
	if err != nil {
		closeAll()
		tb.Fatal(err)
	}
	// The meta group elects its leader first; until then stream creation
	// fails.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stream jetstream.Stream
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		stream, err = js.CreateStream(actx, jetstream.StreamConfig{
			Name: "EVENTS", Subjects: []string{jsSubject}, Storage: jetstream.FileStorage, Replicas: 3,
		})
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			closeAll()
			tb.Fatalf("jetstream: create stream: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var leader *server.Server
	for leader == nil {
		info, err := stream.Info(ctx)
		if err == nil && info.Cluster != nil && info.Cluster.Leader != "" && len(info.Cluster.Replicas) == 2 {
			for _, s := range servers {
				if s.Name() == info.Cluster.Leader {
					leader = s
				}
			}
		}
		if leader == nil {
			if ctx.Err() != nil {
				closeAll()
				tb.Fatalf("jetstream: no stream leader with 2 replicas after 60s (last: %v)", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	pubs := make([]jetstream.JetStream, jsConns)
	for i := range pubs {
		c, err := nats.Connect(leader.ClientURL())
		if err != nil {
			closeAll()
			tb.Fatal(err)
		}
		conns = append(conns, c)
		if pubs[i], err = jetstream.New(c); err != nil {
			closeAll()
			tb.Fatal(err)
		}
	}
	ids := semevent.NewIDGenerator(1)
	var next atomic.Uint64
	bufs := sync.Pool{New: func() any { return new([]byte) }}
	return &cluster{
		append: func(ctx context.Context, ev *semevent.Event) error {
			ids.Stamp(ev)
			bp := bufs.Get().(*[]byte)
			*bp = codec.Append((*bp)[:0], ev)
			pub := pubs[next.Add(1)%jsConns]
			var err error
			if msgID {
				_, err = pub.Publish(ctx, jsSubject, *bp, jetstream.WithMsgID(ev.ID.String()))
			} else {
				_, err = pub.Publish(ctx, jsSubject, *bp)
			}
			bufs.Put(bp)
			return err
		},
		committed: func(ctx context.Context) (int, error) {
			info, err := stream.Info(ctx)
			if err != nil {
				return 0, err
			}
			if info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
				return 0, errors.New("jetstream: the stream does not have 3 replicas")
			}
			return int(info.State.Msgs), nil
		},
		close: closeAll,
	}
}
