package consensus

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// The handshake every Raft connection runs before any Raft byte flows
// (dialer D, listener L, shared secret K):
//
//	D → L  hello: magic "AGRF", version, 32-byte nonce Nd
//	L → D  hello: magic "AGRF", version, 32-byte nonce Nl
//	D → L  proof: len, node ID, HMAC-SHA256(K, label 'D' Nd Nl len idD cb)
//	L → D  proof: len, node ID, HMAC-SHA256(K, label 'L' Nl Nd len idL cb)
//
// label is "agenda-raft-v1"; cb is a TLS channel binding (exported keying
// material) when the connection runs over TLS, empty otherwise. A recorded
// handshake cannot be replayed because the other side's nonce is fresh; a
// proof cannot be reflected back because the role byte differs and a peer
// echoing our own nonce is refused. The listener proves nothing until the
// dialer has, so a scanner learns nothing but the magic.
//
// Version 2 carries each side's era (era.go) in its hello, after the
// nonce: generation (8 bytes, big-endian), ID (16), parent (16), and a
// flags byte: bit 0 says the node holds Raft state, bit 1 that a recover
// started the era. A node of the zero era dials with version 1, as older
// builds do and accept; a node of another era dials with version 2, and a
// listener answers with version 2 when the dialer did or its own era is
// not zero (a version 1 dialer then counts as the zero era with state). In
// a version 2 handshake both proofs also cover both eras, dialer's first,
// so that neither can be claimed without the secret; and the listener
// sends its proof even when it will refuse the dialer's era, so that a
// node a recover left out learns it (era.go).
const (
	handshakeV1       = 1
	handshakeV2       = 2
	eraHelloLen       = 8 + 16 + 16 + 1
	handshakeLabel    = "agenda-raft-v1"
	handshakeNonceLen = 32
	handshakeMACLen   = sha256.Size
	// maxNodeIDLen bounds the node ID a peer may send (and that we accept
	// in StreamConfig).
	maxNodeIDLen = 128

	roleDialer   byte = 'D'
	roleListener byte = 'L'

	channelBindingLabel = "EXPORTER-agenda-raft-v1"
)

// handshakeMagic opens every connection so that a stray client (an HTTP
// probe, a TLS ClientHello, a port scanner) is refused on its first bytes.
var handshakeMagic = [4]byte{'A', 'G', 'R', 'F'}

// ErrHandshake is wrapped by every error a StreamLayer returns when a peer
// fails (or refuses) the connection handshake.
var ErrHandshake = errors.New("raft stream handshake failed")

// handshakeError is a handshake failure with a short reason fit for an
// audit log; it wraps ErrHandshake, and the I/O error if there was one.
type handshakeError struct {
	reason string
	err    error
}

func (e *handshakeError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%v: %s: %v", ErrHandshake, e.reason, e.err)
	}
	return fmt.Sprintf("%v: %s", ErrHandshake, e.reason)
}

func (e *handshakeError) Unwrap() []error {
	if e.err != nil {
		return []error{ErrHandshake, e.err}
	}
	return []error{ErrHandshake}
}

// ioFailure turns a read or write error into a handshake error, naming a
// timeout or a closed connection plainly.
func ioFailure(step string, err error) *handshakeError {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &handshakeError{reason: "timed out " + step, err: err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &handshakeError{reason: "connection closed by peer while " + step, err: err}
	}
	return &handshakeError{reason: step, err: err}
}

// handshakeParams is what one side brings to a handshake.
type handshakeParams struct {
	secret []byte
	nodeID string
	role   byte
	// era is the node's era and decides on the peer's; nil means era 0
	// with Raft state, refusing any other era.
	era *eraBook
}

// eraHello is the era part of a version 2 hello.
type eraHello struct {
	era   Era
	state bool
}

func (h eraHello) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, h.era.Gen)
	b = append(b, h.era.ID[:]...)
	b = append(b, h.era.Parent[:]...)
	var flags byte
	if h.state {
		flags |= 1
	}
	if h.era.Recovered {
		flags |= 2
	}
	return append(b, flags)
}

// v1Hello is what a version 1 hello counts as: era 0, with Raft state.
var v1Hello = eraHello{state: true}

// handshake runs the protocol on conn, whose deadline the caller has set,
// and returns the peer's authenticated node ID.
func handshake(conn net.Conn, p handshakeParams) (peerID string, err error) {
	cb, err := channelBinding(conn)
	if err != nil {
		return "", err
	}
	var own [handshakeNonceLen]byte
	if _, err := rand.Read(own[:]); err != nil {
		return "", &handshakeError{reason: "generate nonce", err: err}
	}
	ownEra, ownState := p.era.hello()
	mine := eraHello{era: ownEra, state: ownState}

	var peer [handshakeNonceLen]byte
	var theirs eraHello
	version := byte(handshakeV1)
	var dialerHello, listenerHello eraHello
	if p.role == roleDialer {
		sent := byte(handshakeV1)
		if !ownEra.IsZero() {
			sent = handshakeV2
		}
		if err := writeHello(conn, sent, own, mine); err != nil {
			return "", err
		}
		if version, peer, theirs, err = readHello(conn); err != nil {
			return "", err
		}
		if version < sent {
			return "", &handshakeError{reason: fmt.Sprintf("peer answered protocol version %d to version %d", version, sent)}
		}
		dialerHello, listenerHello = v1Hello, theirs
		if sent == handshakeV2 {
			dialerHello = mine
		}
	} else {
		var asked byte
		if asked, peer, theirs, err = readHello(conn); err != nil {
			return "", err
		}
		if asked == handshakeV2 || !ownEra.IsZero() {
			version = handshakeV2
		}
		if err := writeHello(conn, version, own, mine); err != nil {
			return "", err
		}
		dialerHello, listenerHello = theirs, mine
	}
	if hmac.Equal(own[:], peer[:]) {
		return "", &handshakeError{reason: "peer echoed our nonce (reflection attempt)"}
	}
	var eras []byte
	if version == handshakeV2 {
		eras = listenerHello.append(dialerHello.append(nil))
	}

	peerRole := roleListener
	if p.role == roleListener {
		peerRole = roleDialer
	}
	sendProof := func() error {
		mac := handshakeMAC(p.secret, p.role, own, peer, p.nodeID, cb, eras)
		msg := make([]byte, 0, 1+len(p.nodeID)+len(mac))
		msg = append(msg, byte(len(p.nodeID)))
		msg = append(msg, p.nodeID...)
		msg = append(msg, mac...)
		if _, err := conn.Write(msg); err != nil {
			return ioFailure("sending proof", err)
		}
		return nil
	}
	checkProof := func() (string, error) {
		id, mac, err := readProof(conn)
		if err != nil {
			return "", err
		}
		want := handshakeMAC(p.secret, peerRole, peer, own, id, cb, eras)
		if !hmac.Equal(mac, want) {
			return "", &handshakeError{reason: fmt.Sprintf("invalid proof from node %q (wrong secret, replay or reflection)", id)}
		}
		return id, nil
	}

	// The dialer proves first; the listener answers only a valid proof,
	// and both then decide on the other's era.
	peerEra := theirs
	if version == handshakeV1 {
		peerEra = v1Hello
	}
	if p.role == roleDialer {
		if err := sendProof(); err != nil {
			return "", err
		}
		peerID, err = checkProof()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", &handshakeError{reason: "peer closed the connection after our proof (did it refuse our secret?)", err: err}
		}
		if err != nil {
			return "", err
		}
		return peerID, p.era.meet(peerID, peerEra.era, peerEra.state)
	}
	if peerID, err = checkProof(); err != nil {
		return "", err
	}
	if err := sendProof(); err != nil {
		return "", err
	}
	return peerID, p.era.meet(peerID, peerEra.era, peerEra.state)
}

// handshakeMAC is HMAC-SHA256(secret, label || role || own nonce || peer
// nonce || len(id) || id || eras || channel binding), eras being empty in
// version 1 and both sides' era hellos (fixed length) in version 2. Every
// field but the last has a fixed or prefixed length, and the version is
// fixed by the hellos, so no two inputs share an encoding.
func handshakeMAC(secret []byte, role byte, own, peer [handshakeNonceLen]byte, nodeID string, cb, eras []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(handshakeLabel))
	m.Write([]byte{role})
	m.Write(own[:])
	m.Write(peer[:])
	m.Write([]byte{byte(len(nodeID))})
	m.Write([]byte(nodeID))
	m.Write(eras)
	m.Write(cb)
	return m.Sum(nil)
}

// channelBinding ties the proofs to the TLS session, if any, so that a
// proof relayed through another TLS session does not verify.
func channelBinding(conn net.Conn) ([]byte, error) {
	tc, ok := conn.(*tls.Conn)
	if !ok {
		return nil, nil
	}
	cs := tc.ConnectionState()
	cb, err := cs.ExportKeyingMaterial(channelBindingLabel, nil, 32)
	if err != nil {
		return nil, &handshakeError{reason: "tls channel binding unavailable", err: err}
	}
	return cb, nil
}

func writeHello(conn net.Conn, version byte, nonce [handshakeNonceLen]byte, h eraHello) error {
	msg := make([]byte, 0, len(handshakeMagic)+1+handshakeNonceLen+eraHelloLen)
	msg = append(msg, handshakeMagic[:]...)
	msg = append(msg, version)
	msg = append(msg, nonce[:]...)
	if version == handshakeV2 {
		msg = h.append(msg)
	}
	if _, err := conn.Write(msg); err != nil {
		return ioFailure("sending hello", err)
	}
	return nil
}

// readHello reads the magic and version first, so that garbage is refused
// before anything else is read.
func readHello(conn net.Conn) (version byte, nonce [handshakeNonceLen]byte, h eraHello, err error) {
	var head [len(handshakeMagic) + 1]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return 0, nonce, h, ioFailure("reading hello", err)
	}
	if [4]byte(head[:4]) != handshakeMagic {
		if head[0] == 0x16 && head[1] == 0x03 {
			return 0, nonce, h, &handshakeError{reason: "peer started a TLS handshake; is TLS enabled on one side only?"}
		}
		return 0, nonce, h, &handshakeError{reason: fmt.Sprintf("bad protocol magic %q", head[:4])}
	}
	version = head[4]
	if version != handshakeV1 && version != handshakeV2 {
		return 0, nonce, h, &handshakeError{reason: fmt.Sprintf("unsupported protocol version %d (want %d or %d)", version, handshakeV1, handshakeV2)}
	}
	if _, err := io.ReadFull(conn, nonce[:]); err != nil {
		return 0, nonce, h, ioFailure("reading hello", err)
	}
	if version == handshakeV1 {
		return version, nonce, v1Hello, nil
	}
	var b [eraHelloLen]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return 0, nonce, h, ioFailure("reading hello", err)
	}
	flags := b[40]
	if flags&^3 != 0 {
		return 0, nonce, h, &handshakeError{reason: fmt.Sprintf("unknown hello flags %#x", flags)}
	}
	h = eraHello{era: Era{Gen: binary.BigEndian.Uint64(b[:8]), ID: [16]byte(b[8:24]), Parent: [16]byte(b[24:40]), Recovered: flags&2 != 0}, state: flags&1 != 0}
	if h.era.IsZero() && h.era != (Era{}) {
		return 0, nonce, h, &handshakeError{reason: "the zero era with a generation, a parent or flags"}
	}
	return version, nonce, h, nil
}

func readProof(conn net.Conn) (nodeID string, mac []byte, err error) {
	var n [1]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return "", nil, ioFailure("reading proof", err)
	}
	if n[0] == 0 || n[0] > maxNodeIDLen {
		return "", nil, &handshakeError{reason: fmt.Sprintf("node ID length %d out of range 1..%d", n[0], maxNodeIDLen)}
	}
	buf := make([]byte, int(n[0])+handshakeMACLen)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return "", nil, ioFailure("reading proof", err)
	}
	return string(buf[:n[0]]), buf[n[0]:], nil
}
