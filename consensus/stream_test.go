package consensus

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestStreamHandshake(t *testing.T) {
	a := mustStreamLayer(t, "node-a")
	b := mustStreamLayer(t, "node-b")
	accepted := acceptAsync(b)
	ca := mustDial(t, a, b.Addr().String())
	cb := mustAccepted(t, accepted, 2*time.Second)
	mustExchange(t, ca, cb)
	if got := peerID(t, ca); got != "node-b" {
		t.Errorf("dialer sees peer %q, want node-b", got)
	}
	if got := peerID(t, cb); got != "node-a" {
		t.Errorf("listener sees peer %q, want node-a", got)
	}

	// And the other way round, on the same layers.
	accepted = acceptAsync(a)
	cb2 := mustDial(t, b, a.Addr().String())
	ca2 := mustAccepted(t, accepted, 2*time.Second)
	mustExchange(t, cb2, ca2)
}

func TestStreamWrongSecret(t *testing.T) {
	t.Run("dialer has the wrong secret", func(t *testing.T) {
		rejects := newStreamRejects()
		good := mustStreamLayer(t, "good", func(c *StreamConfig) { c.OnReject = rejects.hook })
		bad := mustStreamLayer(t, "bad", func(c *StreamConfig) { c.Secret = streamOtherSecret })
		accepted := acceptAsync(good)

		_, err := bad.Dial(raft.ServerAddress(good.Addr().String()), 2*time.Second)
		if !errors.Is(err, ErrHandshake) {
			t.Fatalf("Dial with the wrong secret: err = %v, want ErrHandshake", err)
		}
		if reason := rejects.wait(t, 2*time.Second); !strings.Contains(reason, "invalid proof") {
			t.Errorf("reject reason %q, want an invalid proof", reason)
		}
		mustNotAccepted(t, accepted, 50*time.Millisecond)

		// Accept keeps serving: the next good client gets through.
		other := mustStreamLayer(t, "other")
		c := mustDial(t, other, good.Addr().String())
		mustExchange(t, c, mustAccepted(t, accepted, 2*time.Second))
	})
	t.Run("listener has the wrong secret", func(t *testing.T) {
		rejects := newStreamRejects()
		bad := mustStreamLayer(t, "bad", func(c *StreamConfig) {
			c.Secret = streamOtherSecret
			c.OnReject = rejects.hook
		})
		good := mustStreamLayer(t, "good")
		accepted := acceptAsync(bad)
		_, err := good.Dial(raft.ServerAddress(bad.Addr().String()), 2*time.Second)
		if !errors.Is(err, ErrHandshake) {
			t.Fatalf("Dial to a listener with the wrong secret: err = %v, want ErrHandshake", err)
		}
		rejects.wait(t, 2*time.Second)
		mustNotAccepted(t, accepted, 50*time.Millisecond)
	})
}

func TestStreamSilentClientDoesNotBlockAccept(t *testing.T) {
	const timeout = 500 * time.Millisecond
	rejects := newStreamRejects()
	l := mustStreamLayer(t, "listener", func(c *StreamConfig) {
		c.HandshakeTimeout = timeout
		c.OnReject = rejects.hook
	})
	accepted := acceptAsync(l)

	start := time.Now()
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	good := mustStreamLayer(t, "good")
	c := mustDial(t, good, l.Addr().String())
	mustExchange(t, c, mustAccepted(t, accepted, timeout/2))
	if d := time.Since(start); d >= timeout {
		t.Errorf("good client served after %v, want before the silent one's %v timeout", d, timeout)
	}

	got := mustClosedByPeer(t, silent, 3*timeout)
	if d := time.Since(start); d < timeout {
		t.Errorf("silent client dropped after %v, want after the %v handshake timeout", d, timeout)
	}
	if len(got) != 0 {
		t.Errorf("listener sent %d bytes to a silent client, want none", len(got))
	}
	if reason := rejects.wait(t, time.Second); !strings.Contains(reason, "timed out") {
		t.Errorf("reject reason %q, want a timeout", reason)
	}
}

func TestStreamRejectsMalformedHandshakes(t *testing.T) {
	validHello := append(append(handshakeMagic[:], handshakeV1), bytes.Repeat([]byte{7}, handshakeNonceLen)...)
	for _, tc := range []struct {
		name   string
		send   []byte
		reason string
	}{
		{"http request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "bad protocol magic"},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01}, "TLS"},
		{"wrong version", append(append(handshakeMagic[:], 9), make([]byte, 32)...), "unsupported protocol version"},
		{"node ID too long", append(append(validHello[:len(validHello):len(validHello)], 200), make([]byte, 232)...), "node ID length"},
		{"empty node ID", append(validHello[:len(validHello):len(validHello)], 0), "node ID length"},
		{"forged proof", append(append(validHello[:len(validHello):len(validHello)], 4, 'e', 'v', 'i', 'l'), make([]byte, 32)...), "invalid proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rejects := newStreamRejects()
			l := mustStreamLayer(t, "listener", func(c *StreamConfig) { c.OnReject = rejects.hook })
			accepted := acceptAsync(l)
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			// Refused on what was sent, long before the handshake timeout.
			reason := rejects.wait(t, 500*time.Millisecond)
			if !strings.Contains(reason, tc.reason) {
				t.Errorf("reject reason %q, want it to mention %q", reason, tc.reason)
			}
			mustClosedByPeer(t, c, 500*time.Millisecond)
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("rejected after %v", d)
			}
			mustNotAccepted(t, accepted, 20*time.Millisecond)
		})
	}
}

// recordingProxy relays one connection to target and records what the
// client sends.
type recordingProxy struct {
	ln  net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *recordingProxy) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *recordingProxy) recorded() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.buf.Bytes())
}

func startRecordingProxy(tb testing.TB, target string) *recordingProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &recordingProxy{ln: ln}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		client, err := ln.Accept()
		if err != nil {
			return
		}
		defer client.Close()
		server, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer server.Close()
		go io.Copy(client, server)
		io.Copy(server, io.TeeReader(client, p))
	}()
	return p
}

func TestStreamReplayedHandshakeRejected(t *testing.T) {
	rejects := newStreamRejects()
	l := mustStreamLayer(t, "listener", func(c *StreamConfig) { c.OnReject = rejects.hook })
	d := mustStreamLayer(t, "dialer")
	proxy := startRecordingProxy(t, l.Addr().String())

	accepted := acceptAsync(l)
	c := mustDial(t, d, proxy.ln.Addr().String())
	mustAccepted(t, accepted, 2*time.Second)
	c.Close()
	recorded := proxy.recorded()
	if want := 5 + handshakeNonceLen + 1 + len("dialer") + handshakeMACLen; len(recorded) != want {
		t.Fatalf("recorded %d bytes of client handshake, want %d", len(recorded), want)
	}

	accepted = acceptAsync(l)
	replay, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	if _, err := replay.Write(recorded); err != nil {
		t.Fatal(err)
	}
	if reason := rejects.wait(t, time.Second); !strings.Contains(reason, "invalid proof") {
		t.Errorf("reject reason %q, want an invalid proof", reason)
	}
	// The listener sent its fresh hello and nothing else: no proof of its own.
	if got := mustClosedByPeer(t, replay, time.Second); len(got) != 5+handshakeNonceLen {
		t.Errorf("listener sent %d bytes to the replayer, want only its %d-byte hello", len(got), 5+handshakeNonceLen)
	}
	mustNotAccepted(t, accepted, 20*time.Millisecond)
}

// reflectingListener answers a dialer with its own messages: its hello
// (same nonce), then its proof.
func reflectingListener(tb testing.TB, mirrorNonce bool) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		hello := make([]byte, 5+handshakeNonceLen)
		if _, err := io.ReadFull(c, hello); err != nil {
			return
		}
		if !mirrorNonce {
			rand.Read(hello[5:])
		}
		c.Write(hello)
		proof := make([]byte, 1+len("dialer")+handshakeMACLen)
		if _, err := io.ReadFull(c, proof); err != nil {
			return
		}
		c.Write(proof)
		io.Copy(io.Discard, c)
	}()
	return ln.Addr().String()
}

func TestStreamReflectionRejected(t *testing.T) {
	d := mustStreamLayer(t, "dialer")
	for _, tc := range []struct {
		name   string
		mirror bool
		reason string
	}{
		{"own nonce and proof echoed", true, "reflection"},
		{"own proof echoed", false, "invalid proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Dial(raft.ServerAddress(reflectingListener(t, tc.mirror)), 2*time.Second)
			if !errors.Is(err, ErrHandshake) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("Dial to a reflecting listener: err = %v, want ErrHandshake mentioning %q", err, tc.reason)
			}
		})
	}
	t.Run("proof is bound to the role", func(t *testing.T) {
		// Were the role not in the MAC, a dialer's proof over mirrored
		// nonces would also be a valid listener proof.
		var n [handshakeNonceLen]byte
		rand.Read(n[:])
		asDialer := handshakeMAC(streamSecret, roleDialer, n, n, "x", nil, nil)
		asListener := handshakeMAC(streamSecret, roleListener, n, n, "x", nil, nil)
		if bytes.Equal(asDialer, asListener) {
			t.Fatal("dialer and listener proofs over the same nonces are equal")
		}
	})
}

// testTLSConfig is a config for both sides: a self-signed ECDSA certificate
// for localhost/127.0.0.1, trusted as CA, required from clients too.
func testTLSConfig(tb testing.TB) *tls.Config {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "agenda-raft-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

func TestStreamTLS(t *testing.T) {
	tlsCfg := testTLSConfig(t)
	withTLS := func(c *StreamConfig) { c.TLS = tlsCfg }

	t.Run("both sides", func(t *testing.T) {
		a := mustStreamLayer(t, "a", withTLS)
		b := mustStreamLayer(t, "b", withTLS)
		accepted := acceptAsync(b)
		ca := mustDial(t, a, b.Addr().String())
		cb := mustAccepted(t, accepted, 2*time.Second)
		mustExchange(t, ca, cb)
		if _, ok := ca.(*PeerConn).Conn.(*tls.Conn); !ok {
			t.Errorf("dialed conn is %T inside, want *tls.Conn", ca.(*PeerConn).Conn)
		}
	})
	for _, tc := range []struct {
		name                   string
		listenerTLS, dialerTLS bool
	}{
		{"listener only", true, false},
		{"dialer only", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rejects := newStreamRejects()
			l := mustStreamLayer(t, "l", func(c *StreamConfig) {
				if tc.listenerTLS {
					c.TLS = tlsCfg
				}
				c.OnReject = rejects.hook
			})
			d := mustStreamLayer(t, "d", func(c *StreamConfig) {
				if tc.dialerTLS {
					c.TLS = tlsCfg
				}
			})
			accepted := acceptAsync(l)
			start := time.Now()
			_, err := d.Dial(raft.ServerAddress(l.Addr().String()), 2*time.Second)
			if !errors.Is(err, ErrHandshake) {
				t.Fatalf("Dial: err = %v, want ErrHandshake", err)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("Dial failed after %v, want promptly", d)
			}
			t.Logf("dialer: %v; listener: %s", err, rejects.wait(t, time.Second))
			mustNotAccepted(t, accepted, 20*time.Millisecond)
		})
	}
}

func TestStreamHostName(t *testing.T) {
	l := mustStreamLayer(t, "l", func(c *StreamConfig) { c.AdvertiseAddr = "localhost:0" })
	port := l.BoundAddr().(*net.TCPAddr).Port
	if got, want := l.Addr().String(), "localhost:"+strconv.Itoa(port); got != want {
		t.Fatalf("Addr() = %q, want %q", got, want)
	}
	d := mustStreamLayer(t, "d")
	accepted := acceptAsync(l)
	c := mustDial(t, d, l.Addr().String())
	mustExchange(t, c, mustAccepted(t, accepted, 2*time.Second))

	// raft takes its local address from Addr(): the host name survives.
	trans := raft.NewNetworkTransport(l, 1, time.Second, io.Discard)
	defer trans.Close()
	if got := string(trans.LocalAddr()); got != l.Addr().String() {
		t.Errorf("transport LocalAddr = %q, want %q", got, l.Addr().String())
	}
}

func TestStreamConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  StreamConfig
	}{
		{"short secret", StreamConfig{BindAddr: "127.0.0.1:0", Secret: []byte("too short"), NodeID: "n"}},
		{"no node ID", StreamConfig{BindAddr: "127.0.0.1:0", Secret: streamSecret}},
		{"node ID too long", StreamConfig{BindAddr: "127.0.0.1:0", Secret: streamSecret, NodeID: strings.Repeat("n", 129)}},
		{"wildcard bind, no advertise", StreamConfig{BindAddr: "0.0.0.0:0", Secret: streamSecret, NodeID: "n"}},
		{"wildcard advertise", StreamConfig{BindAddr: "127.0.0.1:0", AdvertiseAddr: "0.0.0.0:7000", Secret: streamSecret, NodeID: "n"}},
		{"advertise without port", StreamConfig{BindAddr: "127.0.0.1:0", AdvertiseAddr: "agenda-1", Secret: streamSecret, NodeID: "n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStreamLayer(tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("NewStreamLayer succeeded, want an error")
			}
		})
	}
}

func TestStreamClose(t *testing.T) {
	l := mustStreamLayer(t, "l")
	accepted := acceptAsync(l)
	// A handshake in progress is aborted by Close.
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	time.Sleep(20 * time.Millisecond)

	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	select {
	case r := <-accepted:
		if !errors.Is(r.err, net.ErrClosed) {
			t.Fatalf("Accept after Close: err = %v, want net.ErrClosed", r.err)
		}
	case <-time.After(time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	mustClosedByPeer(t, silent, 200*time.Millisecond)
	if _, err := net.DialTimeout("tcp", l.Addr().String(), 200*time.Millisecond); err == nil {
		t.Error("listener still accepts TCP connections after Close")
	}
}
