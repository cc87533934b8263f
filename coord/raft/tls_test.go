package raft

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "github.com/lni/dragonboat/v4/raftpb"

	"github.com/vexfs/semevent"
)

// testCA signs certificates for the tests.
type testCA struct {
	t    *testing.T
	dir  string
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	file string
	n    int64
}

func newTestCA(t *testing.T, dir string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA " + dir},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{t: t, dir: dir, key: key, cert: cert, n: 1}
	os.MkdirAll(dir, 0o700)
	ca.file = ca.write("ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(name, typ string, der []byte) string {
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return p
}

// issue writes a certificate and key; edit changes the template.
func (ca *testCA) issue(name string, edit func(c *x509.Certificate)) *TLS {
	ca.n++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return &TLS{CAFile: ca.file, CertFile: ca.write(name+".pem", "CERTIFICATE", der), KeyFile: ca.write(name+"-key.pem", "EC PRIVATE KEY", kder)}
}

// Issue 13 (TLS): a certificate that cannot work failed New only after
// StartTimeout (30 s) with a generic ErrNoQuorum. It must fail at once
// with a *CertError naming the cause. StartTimeout is an hour here: a
// failure that waited for a quorum would time the test out.
func TestUnusableCertificateFailsNew(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, filepath.Join(dir, "ca"))
	other := newTestCA(t, filepath.Join(dir, "other"))
	good := ca.issue("good", nil)
	mismatched := *good
	mismatched.KeyFile = ca.issue("k", nil).KeyFile
	garbageCA := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbageCA, []byte("not a pem"), 0o600)
	for _, tc := range []struct {
		name string
		tls  *TLS
		want string
	}{
		{"no clientAuth", ca.issue("server-only", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), "clientAuth"},
		{"no serverAuth", ca.issue("client-only", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }), "serverAuth"},
		{"wrong host", ca.issue("elsewhere", func(c *x509.Certificate) { c.IPAddresses = nil; c.DNSNames = []string{"evil.example"} }), "does not name this node's host"},
		{"expired", ca.issue("old", func(c *x509.Certificate) { c.NotAfter = time.Now().Add(-time.Minute) }), "expired"},
		{"foreign CA", other.issue("foreign", func(c *x509.Certificate) {}), "unknown authority"},
		{"key of another certificate", &mismatched, "key"},
		{"CA file without a certificate", &TLS{CAFile: garbageCA, CertFile: good.CertFile, KeyFile: good.KeyFile}, "no PEM certificate"},
		{"missing CA file", &TLS{CAFile: filepath.Join(dir, "none.pem"), CertFile: good.CertFile, KeyFile: good.KeyFile}, "cannot read"},
		{"pinned to another node", ca.issue("pinned", func(c *x509.Certificate) { c.URIs = []*url.URL{NodeURI(2)} }), "do not name this node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "foreign CA" {
				tc.tls.CAFile = ca.file
			}
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			c, err := New(&Options{Node: 1, Dir: t.TempDir(), Members: map[uint64]string{1: addr, 2: "127.0.0.1:1"}, TLS: tc.tls, StartTimeout: time.Hour})
			if err == nil {
				c.Close(context.Background())
				t.Fatal("New accepted a certificate that cannot work")
			}
			var ce *CertError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want a *CertError (ErrCertificate) saying %q", err, tc.want)
			}
		})
	}
}

// Issue 18 item 20: any certificate from the cluster CA (CN not-a-node,
// SAN evil.example) was accepted as a peer. A node must refuse a
// certificate that names no member, and messages its certificate does not
// speak for. Each node listens on its own loopback address and its
// certificate names only that address.
//
// Two ways to tell nodes apart: each on its own loopback address with a
// certificate naming only that address ("hosts"), or all on 127.0.0.1
// with certificates pinned to their node by a URI SAN "semevent:node:<id>"
// ("node URIs").
func TestPeerIdentityIsBoundToCertificate(t *testing.T) {
	for _, mode := range []string{"hosts", "node URIs"} {
		t.Run(mode, func(t *testing.T) { peerIdentity(t, mode == "node URIs") })
	}
}

func peerIdentity(t *testing.T, pinned bool) {
	dir := t.TempDir()
	ca := newTestCA(t, filepath.Join(dir, "pki"))
	const n = 3
	files := make([]*TLS, n)
	for i := range n {
		ip := net.ParseIP(fmt.Sprintf("127.0.0.%d", i+1))
		if pinned {
			ip = net.ParseIP("127.0.0.1")
		}
		files[i] = ca.issue(fmt.Sprint("node", i+1), func(c *x509.Certificate) {
			c.IPAddresses = []net.IP{ip}
			if pinned {
				c.URIs = []*url.URL{NodeURI(uint64(i + 1))}
			}
		})
	}
	cl := newCluster(t, clusterConfig{nodes: n, tweak: func(o *Options) {
		i := o.Node - 1
		o.TLS = files[i]
		if pinned {
			return
		}
		members := make(map[uint64]string, n)
		for id, a := range o.Members {
			_, port, _ := net.SplitHostPort(a)
			members[id] = fmt.Sprintf("127.0.0.%d:%s", id, port)
		}
		o.Members = members
	}})
	node1 := cl.node(0)
	target := node1.opts.Addr

	// A certificate of the cluster CA that names no member: the TLS
	// handshake is refused.
	evil := ca.issue("not-a-node", func(c *x509.Certificate) { c.IPAddresses = nil; c.DNSNames = []string{"evil.example"} })
	evilCert, err := tls.LoadX509KeyPair(evil.CertFile, evil.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	before := node1.Stats().PeersRefused
	conn, err := tls.Dial("tcp", target, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: []tls.Certificate{evilCert}})
	if err == nil {
		// TLS 1.3: the client's certificate is checked after the
		// client's handshake returns; the first read tells.
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a CA certificate naming no member was accepted as a peer (read: %v)", err)
	}
	if got := node1.Stats().PeersRefused; got <= before {
		t.Fatalf("PeersRefused = %d, want it counted", got)
	}

	// Node 3's own certificate speaking for node 2: the message is
	// refused and the connection closed.
	id3, err := loadTLS(files[2], 3, cl.node(2).opts.Addr, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tr := &peerTransport{id: id3, dialTime: 5 * time.Second}
	before = node1.Stats().PeersRefused
	c, err := tr.dial(context.Background(), target, false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	forged := pb.MessageBatch{DeploymentId: node1.opts.DeploymentID, Requests: []pb.Message{{Type: pb.Heartbeat, To: 1, From: 2, ShardID: shardID(0), Term: 1 << 40}}}
	for deadline := time.Now().Add(10 * time.Second); node1.Stats().PeersRefused == before && time.Now().Before(deadline); {
		if c.SendMessageBatch(forged) != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := node1.Stats().PeersRefused; got <= before {
		t.Fatalf("a message from node 2 over node 3's certificate was not refused (PeersRefused %d)", got)
	}

	// The cluster still works, each node speaking for itself.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitLeader(ctx, cl); err != nil {
		t.Fatal(err)
	}
}

// names binds a certificate to the members whose host it names, and with
// node URIs only to the nodes they list.
func TestCertificateNames(t *testing.T) {
	ca := newTestCA(t, t.TempDir())
	members := map[uint64]string{1: "127.0.0.1:1", 2: "127.0.0.1:2", 3: "127.0.0.3:3", 4: "node4.example:4"}
	leaf := func(edit func(c *x509.Certificate)) *x509.Certificate {
		f := ca.issue(fmt.Sprint("c", ca.n), edit)
		c, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := x509.ParseCertificate(c.Certificate[0])
		return l
	}
	for _, tc := range []struct {
		name string
		edit func(c *x509.Certificate)
		want []uint64
	}{
		{"one host", nil, []uint64{1, 2}},
		{"pinned to node 2", func(c *x509.Certificate) { c.URIs = []*url.URL{NodeURI(2)} }, []uint64{2}},
		{"pinned to a node on another host", func(c *x509.Certificate) { c.URIs = []*url.URL{NodeURI(3)} }, nil},
		{"DNS name", func(c *x509.Certificate) { c.IPAddresses = nil; c.DNSNames = []string{"node4.example"} }, []uint64{4}},
		{"CN only", func(c *x509.Certificate) { c.IPAddresses = nil; c.Subject.CommonName = "127.0.0.1" }, nil},
		{"evil", func(c *x509.Certificate) { c.IPAddresses = nil; c.DNSNames = []string{"evil.example"} }, nil},
	} {
		got := names(leaf(tc.edit), members)
		if len(got) != len(tc.want) {
			t.Errorf("%s: names = %v, want %v", tc.name, got, tc.want)
			continue
		}
		for _, id := range tc.want {
			if !got[id] {
				t.Errorf("%s: names = %v, want %v", tc.name, got, tc.want)
			}
		}
	}
}

// A node that joins a TLS cluster does not know the membership until the
// leader reaches it: it must accept the leader then, and bind identities
// once it knows the members.
func TestJoinOverTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, filepath.Join(dir, "pki"))
	files := make([]*TLS, 4)
	for i := range files {
		files[i] = ca.issue(fmt.Sprint("node", i+1), func(c *x509.Certificate) { c.URIs = []*url.URL{NodeURI(uint64(i + 1))} })
	}
	cl := newCluster(t, clusterConfig{nodes: 3, tweak: func(o *Options) { o.TLS = files[o.Node-1] }})
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := cl.awaitLeader(t)
	if err := cl.node(leader).AddNode(ctx, 4, addr); err != nil {
		t.Fatal(err)
	}
	c4, err := New(&Options{Node: 4, Dir: filepath.Join(dir, "node4"), Join: true, Addr: addr, TLS: files[3], StartTimeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("the joining node did not catch up over TLS: %v", err)
	}
	defer c4.Close(context.Background())
	// The heartbeat loop learns the membership; identities are bound from
	// then on.
	for deadline := time.Now().Add(20 * time.Second); len(c4.members.get()) != 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := c4.members.get(); len(got) != 4 {
		t.Fatalf("the joined node knows members %v, want 4", got)
	}
	if tr := (&peerTransport{self: 4, members: c4.members}); tr.learning() {
		t.Fatal("the joined node still accepts any certificate of the CA")
	}
	// It can be written to and read from like the others.
	if _, err := c4.Append(ctx, &semevent.Event{Kind: semevent.KindFileWrite, Path: "/joined"}); err != nil {
		t.Fatalf("append on the joined node: %v", err)
	}
}
