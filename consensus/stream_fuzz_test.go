package consensus

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
)

// FuzzStreamHandshake plays an arbitrary peer against both sides of the
// Raft stream handshake, of a node with or without an era. Nothing may
// panic or hang, a peer without the secret never passes nor supersedes the
// node, and a listener never proves anything (sends more than its hello)
// to a peer that has not proved itself first.
func FuzzStreamHandshake(f *testing.F) {
	hello := append(append(handshakeMagic[:], handshakeV1), bytes.Repeat([]byte{7}, handshakeNonceLen)...)
	hello2 := append(append(handshakeMagic[:], handshakeV2), bytes.Repeat([]byte{7}, handshakeNonceLen)...)
	recovered := nextEra(Era{}, []Server{{ID: "x"}})
	proof2 := append(append([]byte{1, 'x'}, eraHello{era: recovered, state: true}.block()...), make([]byte, handshakeMACLen)...)
	f.Add(false, false, hello)
	f.Add(false, false, append(append([]byte{}, hello...), append([]byte{1, 'x'}, make([]byte, handshakeMACLen)...)...))
	f.Add(false, false, append(append([]byte{}, hello...), 0))
	f.Add(false, false, append(append([]byte{}, hello...), 200))
	f.Add(true, false, hello)
	f.Add(true, false, []byte{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01})
	f.Add(false, false, []byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(false, false, append(append([]byte{}, hello2...), proof2...))
	f.Add(true, false, append(append([]byte{}, hello2...), proof2...))
	f.Add(false, true, append(append([]byte{}, hello...), proof2...))
	f.Add(true, true, append(append([]byte{}, hello2...), append([]byte{1, 'x', 0, 0, 0, 0, 0, 0, 0, 0}, make([]byte, 16+1+1+handshakeMACLen)...)...))
	f.Add(false, true, append(append([]byte{}, hello2...), append([]byte{1, 'x'}, make([]byte, 8+16+1)...)...))
	f.Fuzz(func(t *testing.T, asDialer, withEra bool, peer []byte) {
		role := roleListener
		if asDialer {
			role = roleDialer
		}
		book := &eraBook{hasState: func() bool { return true }, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), open: map[[16]byte]int{}}
		own := Era{}
		if withEra {
			own = recovered
		}
		book.own.Store(&own)
		conn := &scriptedConn{in: bytes.NewReader(peer)}
		if _, _, err := handshake(conn, handshakeParams{secret: streamSecret, nodeID: "fuzz", role: role, era: book}); err == nil {
			t.Fatalf("a peer without the secret passed the handshake with %x", peer)
		}
		if !asDialer && conn.out.Len() > len(hello) {
			t.Fatalf("listener sent %d bytes (more than its hello) to an unproven peer", conn.out.Len())
		}
		if book.Superseded() != nil {
			t.Fatalf("a peer without the secret superseded the node with %x", peer)
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
