package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCerts are a CA and a certificate it signed for 127.0.0.1 and
// localhost, written as PEM files.
type testCerts struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
}

func writeTestCerts(t testing.TB, dir string) testCerts {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "agenda test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "agenda node"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := testCerts{
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "node.pem"), keyFile: filepath.Join(dir, "node-key.pem"),
		pool: x509.NewCertPool(),
	}
	c.pool.AddCert(ca)
	for path, block := range map[string]*pem.Block{
		c.caFile: {Type: "CERTIFICATE", Bytes: caDER}, c.certFile: {Type: "CERTIFICATE", Bytes: der}, c.keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Finding 9 of issue 9: TLS_CERT_FILE/TLS_KEY_FILE were ignored — plain HTTP
// was served even when the files did not exist. Now any file that cannot
// be used stops the start.
func TestTLSFilesThatCannotBeUsedStopTheStart(t *testing.T) {
	dir := t.TempDir()
	certs := writeTestCerts(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	cases := []struct {
		name            string
		cert, key, ca   string
		wantErrContains string
	}{
		{"missing certificate", filepath.Join(dir, "nope.pem"), certs.keyFile, "", "TLS_CERT_FILE"},
		{"missing key", certs.certFile, filepath.Join(dir, "nope.pem"), "", "TLS_KEY_FILE"},
		{"key without certificate", "", certs.keyFile, "", "TLS_CERT_FILE and TLS_KEY_FILE"},
		{"garbage certificate", garbage, certs.keyFile, "", "TLS_CERT_FILE"},
		{"missing CA file", certs.certFile, certs.keyFile, filepath.Join(dir, "nope.pem"), "TLS_CA_FILE"},
		{"garbage CA file", certs.certFile, certs.keyFile, garbage, "TLS_CA_FILE"},
	}
	if os.Geteuid() != 0 { // root reads anything
		unreadable := filepath.Join(dir, "unreadable.pem")
		b, _ := os.ReadFile(certs.certFile)
		os.WriteFile(unreadable, b, 0o000)
		cases = append(cases, struct {
			name            string
			cert, key, ca   string
			wantErrContains string
		}{"unreadable certificate", unreadable, certs.keyFile, "", "permission denied"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, t.TempDir())
			cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCAFile = tc.cert, tc.key, tc.ca
			n := &Node{Config: cfg, Logger: testLogger()}
			err := n.Open(context.Background())
			if err == nil {
				n.Close()
				t.Fatal("node started")
			}
			if !strings.Contains(err.Error(), tc.wantErrContains) {
				t.Errorf("error %q does not mention %q", err, tc.wantErrContains)
			}
		})
	}
}

// A node with a certificate serves HTTPS, and only HTTPS.
func TestTLSServesHTTPS(t *testing.T) {
	dir := t.TempDir()
	certs := writeTestCerts(t, dir)
	cfg := testConfig(t, filepath.Join(dir, "data"))
	cfg.TLSCertFile, cfg.TLSKeyFile, cfg.TLSCAFile = certs.certFile, certs.keyFile, certs.caFile
	n := &Node{Config: cfg, Logger: testLogger()}
	if err := n.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.pool}}}
	c := &client{t: t, base: "https://" + n.HTTPAddr(), http: hc}
	waitFor(t, 15*time.Second, "the node to be ready over HTTPS", func() bool {
		resp, err := hc.Get(c.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	c.do("POST", "/api/auth/register", map[string]any{"username": "ana", "password": "password-ana"}).expect(t, http.StatusCreated)
	c.login("ana", "password-ana")
	c.do("GET", "/api/me", nil).expect(t, http.StatusOK)

	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + n.HTTPAddr() + "/readyz")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP answered 200 on a TLS node")
		}
	}
}

// A three-node cluster whose nodes talk HTTPS to each other (gossip, join,
// forwarded writes) and TLS on Raft, with certificates from a CA of the
// test's own.
func TestClusterTLS(t *testing.T) {
	certs := writeTestCerts(t, t.TempDir())
	tc := newDirectCluster(t, 3)
	tc.tls = &tls.Config{RootCAs: certs.pool}
	for _, n := range tc.nodes {
		n.env["TLS_CERT_FILE"], n.env["TLS_KEY_FILE"], n.env["TLS_CA_FILE"] = certs.certFile, certs.keyFile, certs.caFile
	}
	tc.start()
	leader := tc.waitStable(clusterTimeout, nil, false)
	follower := followersOf(tc.nodes, leader)[0]
	// A write on a follower is forwarded to the leader over HTTPS.
	ana := tc.registerOn(follower, "ana")
	w := mustCreateSlot(t, ana, 1)
	tc.expectVisibleEverywhere(ana, tc.nodes, []written{w})

	// Raft speaks TLS with the node certificate.
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", leader.raftAddr, &tls.Config{RootCAs: certs.pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake with the Raft port: %v", err)
	}
	conn.Close()
	// And the HTTP port speaks nothing else.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + follower.httpAddr + "/readyz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP answered 200 on a TLS node")
		}
	}
}

func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
