package raft

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vexfs/semevent/coord"
)

func TestMain(m *testing.M) {
	if os.Getenv(procNodeEnv) != "" {
		os.Exit(procNodeMain()) // a node process of a multi-process test, killed by it
	}
	if mode := os.Getenv(childEnv); mode != "" {
		runChild(mode) // a child process of a crash test
		os.Exit(0)
	}
	// Closing every NodeHost leaves no goroutine behind: no ignores.
	goleak.VerifyTestMain(m)
}

// freePort returns a port free for TCP and UDP on 127.0.0.1.
func freePort(t testing.TB) int {
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// proxy stands at a node's advertised Raft address and forwards TCP and UDP
// to the address the node listens on. Cut drops every connection and
// datagram to the node, and every heartbeat datagram the node sends to the
// others (they name their sender), so that the node is isolated: its Raft
// messages still reach the other nodes, but no answer comes back, and no
// heartbeat crosses in either direction.
type proxy struct {
	ln     net.Listener
	udp    net.PacketConn
	target string
	cut    *atomic.Bool // cluster.cuts[this node]
	net    *cluster     // for the senders' state

	mu    sync.Mutex // guards conns
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newProxy(t testing.TB, cl *cluster, i int, addr, target string) *proxy {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, udp: udp, target: target, cut: &cl.cuts[i], net: cl, conns: make(map[net.Conn]struct{})}
	p.wg.Add(2)
	go p.acceptLoop()
	go p.udpLoop()
	return p
}

func (p *proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(in, out)
		go pipe(out, in)
	}
}

func (p *proxy) udpLoop() {
	defer p.wg.Done()
	ta, _ := net.ResolveUDPAddr("udp", p.target)
	buf := make([]byte, 2048)
	for {
		n, _, err := p.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		if bt, ok := parseBeat(buf[:n]); p.cut.Load() || ok && p.net.isolated(bt.node) {
			continue
		}
		p.udp.WriteTo(buf[:n], ta)
	}
}

// Cut isolates the node behind p; Heal reconnects it.
func (p *proxy) Cut() {
	p.cut.Store(true)
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

func (p *proxy) Heal() { p.cut.Store(false) }

func (p *proxy) Close() {
	p.ln.Close()
	p.udp.Close()
	p.Cut()
	p.wg.Wait()
}

// cluster is a 3-node cluster on 127.0.0.1 for tests: temp dirs, distinct
// ports, optional proxies in front of every node and mutual TLS.
type cluster struct {
	t       testing.TB
	opts    []Options
	proxies []*proxy
	cuts    []atomic.Bool // per node: isolated
	certs   []*TLS        // with tls: node i+1's files

	mu    sync.Mutex // guards nodes
	nodes []*Coordinator
}

type clusterConfig struct {
	nodes   int
	shards  int
	proxied bool
	tls     bool
	spare   int // with tls: certificates for this many more nodes (cluster.certs)
	tweak   func(o *Options)
}

func newCluster(t testing.TB, cfg clusterConfig) *cluster {
	if cfg.nodes == 0 {
		cfg.nodes = 3
	}
	dir := t.TempDir()
	var tlsFiles []*TLS
	if cfg.tls {
		tlsFiles = writeCerts(t, filepath.Join(dir, "pki"), cfg.nodes+cfg.spare)
	}
	cl := &cluster{t: t, nodes: make([]*Coordinator, cfg.nodes), cuts: make([]atomic.Bool, cfg.nodes), certs: tlsFiles}
	members := make(map[uint64]string)
	listen := make([]string, cfg.nodes)
	for i := range cfg.nodes {
		id := uint64(i + 1)
		listen[i] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		members[id] = listen[i]
		if cfg.proxied {
			members[id] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
			cl.proxies = append(cl.proxies, newProxy(t, cl, i, members[id], listen[i]))
		}
	}
	for i := range cfg.nodes {
		o := Options{
			Node:    uint64(i + 1),
			Dir:     filepath.Join(dir, fmt.Sprint("node", i+1)),
			Members: members,
			Shards:  cfg.shards,
		}
		if cfg.proxied {
			o.ListenAddr = listen[i]
		}
		if cfg.tls {
			o.TLS = tlsFiles[i]
		}
		if cfg.tweak != nil {
			cfg.tweak(&o)
		}
		cl.opts = append(cl.opts, o)
	}
	var wg sync.WaitGroup
	errs := make([]error, cfg.nodes)
	for i := range cfg.nodes {
		wg.Go(func() { errs[i] = cl.start(i) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			cl.Close()
			t.Fatalf("start node %d: %v", i+1, err)
		}
	}
	t.Cleanup(cl.Close)
	return cl
}

func (cl *cluster) start(i int) error {
	c, err := New(&cl.opts[i])
	if err != nil {
		return err
	}
	cl.mu.Lock()
	cl.nodes[i] = c
	cl.mu.Unlock()
	return nil
}

// isolated reports whether the node with this id is cut off.
func (cl *cluster) isolated(id uint64) bool {
	return id >= 1 && int(id) <= len(cl.cuts) && cl.cuts[id-1].Load()
}

// node returns node i's coordinator (closed while it is down).
func (cl *cluster) node(i int) *Coordinator {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.nodes[i]
}

// stop closes node i, keeping its data.
func (cl *cluster) stop(i int) {
	cl.node(i).Close(context.Background())
}

// leader returns the index of shard 0's leader as some live node sees it,
// or -1.
func (cl *cluster) leader() int {
	for i := range cl.nodes {
		c := cl.node(i)
		if c.closed.Load() {
			continue
		}
		if l, _, ok, _ := c.nh.GetLeaderID(shardID(0)); ok {
			return int(l) - 1
		}
	}
	return -1
}

// awaitLeader waits up to 30s for a node to know a leader of shard 0 (an
// election after a fault takes a while on a loaded machine) and returns its
// index; it fails the test if none is known by then.
func (cl *cluster) awaitLeader(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitLeader(ctx, cl); err != nil {
		t.Fatal(err)
	}
	return cl.leader()
}

func waitLeader(ctx context.Context, cl *cluster) error {
	for cl.leader() < 0 {
		select {
		case <-ctx.Done():
			return errors.New("no leader")
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (cl *cluster) Close() {
	var wg sync.WaitGroup
	for i := range cl.nodes {
		if c := cl.node(i); c != nil {
			wg.Go(func() { c.Close(context.Background()) })
		}
	}
	wg.Wait()
	for _, p := range cl.proxies {
		p.Close()
	}
	cl.proxies = nil
}

// writeCerts makes a CA and one certificate per node (for 127.0.0.1, for
// both server and client use) and writes them as PEM files.
func writeCerts(t testing.TB, dir string, n int) []*TLS {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "semevent test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.pem", "CERTIFICATE", caDER)
	var out []*TLS
	for i := range n {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)),
			Subject:      pkix.Name{CommonName: fmt.Sprint("node", i+1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalECPrivateKey(key)
		out = append(out, &TLS{
			CAFile:   caFile,
			CertFile: write(fmt.Sprintf("node%d.pem", i+1), "CERTIFICATE", der),
			KeyFile:  write(fmt.Sprintf("node%d-key.pem", i+1), "EC PRIVATE KEY", kder),
		})
	}
	return out
}

var _ coord.Coordinator = (*Coordinator)(nil)
