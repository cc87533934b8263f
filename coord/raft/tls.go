package raft

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrCertificate is wrapped by the *CertError New returns for TLS files
// that cannot work between nodes.
var ErrCertificate = errors.New("raft: unusable TLS certificate")

// CertError says which TLS file cannot work, and why: New checks the
// files before it starts, so a certificate that peers would refuse fails
// at once instead of as coord.ErrNoQuorum after StartTimeout.
type CertError struct {
	File   string // the file at fault
	Reason string
	Err    error // the underlying error, if any
}

func (e *CertError) Error() string {
	s := fmt.Sprintf("raft: TLS %s: %s", e.File, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCertificate and the cause.
func (e *CertError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCertificate, e.Err}
	}
	return []error{ErrCertificate}
}

// tlsIdentity is what a node presents and trusts.
type tlsIdentity struct {
	cert tls.Certificate
	leaf *x509.Certificate
	pool *x509.CertPool
}

// loadTLS reads t's files and checks what mutual TLS between nodes needs:
// the CA file holds a certificate; the key matches the certificate; the
// certificate chains to the CA, is valid now, and is valid for both
// serverAuth and clientAuth (every node is both); and it names addr's host
// (a DNS or IP SAN), which is how peers check who they talk to; and, when
// it carries node URIs, that one of them is node's.
func loadTLS(t *TLS, node uint64, addr string, now time.Time) (*tlsIdentity, error) {
	caPEM, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, &CertError{File: t.CAFile, Reason: "cannot read the CA file", Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, &CertError{File: t.CAFile, Reason: "no PEM certificate in the CA file"}
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, &CertError{File: t.CertFile, Reason: "cannot load the certificate and key " + t.KeyFile, Err: err}
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, &CertError{File: t.CertFile, Reason: "cannot parse the certificate", Err: err}
		}
	}
	inter := x509.NewCertPool()
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	for _, use := range []struct {
		name string
		eku  x509.ExtKeyUsage
	}{{"serverAuth", x509.ExtKeyUsageServerAuth}, {"clientAuth", x509.ExtKeyUsageClientAuth}} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{use.eku}})
		if err != nil {
			return nil, &CertError{File: t.CertFile, Reason: fmt.Sprintf("not valid for %s under the CA %s (nodes need both serverAuth and clientAuth)", use.name, t.CAFile), Err: err}
		}
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &CertError{File: t.CertFile, Reason: fmt.Sprintf("this node's address %q has no host", addr), Err: err}
	}
	if err := leaf.VerifyHostname(host); err != nil {
		return nil, &CertError{File: t.CertFile, Reason: fmt.Sprintf("does not name this node's host %q (DNS SANs %v, IP SANs %v)", host, leaf.DNSNames, leaf.IPAddresses), Err: err}
	}
	if ids, pinned := nodeURIs(leaf); pinned && !ids[node] {
		return nil, &CertError{File: t.CertFile, Reason: fmt.Sprintf("its node URIs %v do not name this node (%s)", leaf.URIs, NodeURI(node))}
	}
	return &tlsIdentity{cert: cert, leaf: leaf, pool: pool}, nil
}

// names reports which members the certificate names: those whose
// address's host is one of its SANs and, when the certificate carries
// node URIs (URI SANs "semevent:node:<id>"), only the members it lists,
// so that nodes sharing a host still have identities of their own.
func names(leaf *x509.Certificate, members map[uint64]string) map[uint64]bool {
	ids, pinned := nodeURIs(leaf)
	out := make(map[uint64]bool)
	for id, a := range members {
		if pinned && !ids[id] {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		if leaf.VerifyHostname(strings.TrimSuffix(host, ".")) == nil {
			out[id] = true
		}
	}
	return out
}

// NodeURI returns the URI SAN that pins a certificate to node id:
// "semevent:node:<id>". A certificate with such URIs speaks only for the
// nodes they name (and whose address's host it names too).
func NodeURI(id uint64) *url.URL {
	return &url.URL{Scheme: "semevent", Opaque: "node:" + strconv.FormatUint(id, 10)}
}

// nodeURIs returns the node ids leaf's URI SANs name, and whether it has
// any.
func nodeURIs(leaf *x509.Certificate) (map[uint64]bool, bool) {
	var ids map[uint64]bool
	for _, u := range leaf.URIs {
		if u.Scheme != "semevent" || !strings.HasPrefix(u.Opaque, "node:") {
			continue
		}
		id, err := strconv.ParseUint(strings.TrimPrefix(u.Opaque, "node:"), 10, 64)
		if err != nil {
			continue
		}
		if ids == nil {
			ids = make(map[uint64]bool)
		}
		ids[id] = true
	}
	return ids, ids != nil
}
