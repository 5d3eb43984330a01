package consensus

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// FuzzStreamHandshake plays an arbitrary peer against both sides of the
// Raft stream handshake. Nothing may panic or hang, a peer without the
// secret never passes, and a listener never proves anything (sends more
// than its hello) to a peer that has not proved itself first.
func FuzzStreamHandshake(f *testing.F) {
	hello := append(append(handshakeMagic[:], handshakeV1), bytes.Repeat([]byte{7}, handshakeNonceLen)...)
	f.Add(false, hello)
	f.Add(false, append(append([]byte{}, hello...), append([]byte{1, 'x'}, make([]byte, handshakeMACLen)...)...))
	f.Add(false, append(append([]byte{}, hello...), 0))
	f.Add(false, append(append([]byte{}, hello...), 200))
	f.Add(true, hello)
	f.Add(true, []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01})
	f.Add(false, []byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, asDialer bool, peer []byte) {
		role := roleListener
		if asDialer {
			role = roleDialer
		}
		conn := &scriptedConn{in: bytes.NewReader(peer)}
		if _, err := handshake(conn, handshakeParams{secret: streamSecret, nodeID: "fuzz", role: role}); err == nil {
			t.Fatalf("a peer without the secret passed the handshake with %x", peer)
		}
		if !asDialer && conn.out.Len() > len(hello) {
			t.Fatalf("listener sent %d bytes (more than its hello) to an unproven peer", conn.out.Len())
		}
	})
}

// scriptedConn is a peer that sends a fixed script, then EOF, and records
// what it is sent.
type scriptedConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (c *scriptedConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *scriptedConn) Close() error                     { return nil }
func (c *scriptedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }
