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
// Version 2 adds each side's era (era.go) after its proof: generation (8
// bytes, big-endian), ID (16), a flags byte (bit 0: the node holds Raft
// state; bit 1: a recover started the era), a count and that many
// ancestor IDs (16 bytes each, nearest first, at most maxAncestors). The
// dialer's proof covers its era, the listener's both: neither can be
// claimed without the secret, and the listener, which proves nothing until
// the dialer has, tells a stranger no more than that it has an era. A
// node of the zero era dials with version 1, as older builds do and
// accept; a node of another era dials with version 2, and a listener
// answers with version 2 when the dialer did or its own era is not zero
// (a dialer of this build then follows; an older one gives up, as it must).
// The listener sends its proof and era even when it will refuse the
// dialer's, so that a node a recover left out learns it (era.go).
const (
	handshakeV1 = 1
	handshakeV2 = 2
	// eraBlockHead is an era block's length without its ancestors.
	eraBlockHead      = 8 + 16 + 1 + 1
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

// eraHello is what a version 2 handshake says of a side's era.
type eraHello struct {
	era   Era
	state bool
}

// block is h as its proof carries it.
func (h eraHello) block() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, eraBlockHead+len(h.era.Ancestors)), h.era.Gen)
	b = append(b, h.era.ID[:]...)
	var flags byte
	if h.state {
		flags |= 1
	}
	if h.era.Recovered {
		flags |= 2
	}
	b = append(b, flags, byte(len(h.era.Ancestors)/16))
	return append(b, h.era.Ancestors...)
}

// v1Hello is what a version 1 handshake says of the peer: the zero era,
// with Raft state (as every older build's).
var v1Hello = eraHello{state: true}

// readEraBlock reads an era block, returning it as read and decoded.
func readEraBlock(conn net.Conn) ([]byte, eraHello, error) {
	head := make([]byte, eraBlockHead, eraBlockHead+maxAncestors*16)
	if _, err := io.ReadFull(conn, head); err != nil {
		return nil, eraHello{}, ioFailure("reading era", err)
	}
	flags, n := head[24], int(head[25])
	if flags&^3 != 0 {
		return nil, eraHello{}, &handshakeError{reason: fmt.Sprintf("unknown era flags %#x", flags)}
	}
	if n > maxAncestors {
		return nil, eraHello{}, &handshakeError{reason: fmt.Sprintf("%d ancestor eras, at most %d", n, maxAncestors)}
	}
	b := head[:eraBlockHead+16*n]
	if _, err := io.ReadFull(conn, b[eraBlockHead:]); err != nil {
		return nil, eraHello{}, ioFailure("reading era", err)
	}
	h := eraHello{state: flags&1 != 0, era: Era{Gen: binary.BigEndian.Uint64(b[:8]), ID: [16]byte(b[8:24]),
		Recovered: flags&2 != 0, Ancestors: string(b[eraBlockHead:])}}
	if h.era.IsZero() && (h.era.Gen != 0 || h.era.Recovered || n > 0) {
		return nil, eraHello{}, &handshakeError{reason: "the zero era with a generation, ancestors or flags"}
	}
	return b, h, nil
}

// handshake runs the protocol on conn, whose deadline the caller has set,
// and returns the peer's authenticated node ID and the era the connection
// is of (counted open in p.era until released).
func handshake(conn net.Conn, p handshakeParams) (peerID string, era Era, err error) {
	cb, err := channelBinding(conn)
	if err != nil {
		return "", Era{}, err
	}
	var own [handshakeNonceLen]byte
	if _, err := rand.Read(own[:]); err != nil {
		return "", Era{}, &handshakeError{reason: "generate nonce", err: err}
	}
	ownEra, ownState := p.era.hello()

	var peer [handshakeNonceLen]byte
	version := byte(handshakeV1)
	if !ownEra.IsZero() {
		version = handshakeV2
	}
	if p.role == roleDialer {
		if err := writeHello(conn, version, own); err != nil {
			return "", Era{}, err
		}
		sent := version
		if version, peer, err = readHello(conn); err != nil {
			return "", Era{}, err
		}
		if version < sent {
			return "", Era{}, &handshakeError{reason: fmt.Sprintf("peer answered protocol version %d to version %d", version, sent)}
		}
	} else {
		var asked byte
		if asked, peer, err = readHello(conn); err != nil {
			return "", Era{}, err
		}
		version = max(version, asked)
		if err := writeHello(conn, version, own); err != nil {
			return "", Era{}, err
		}
	}
	if hmac.Equal(own[:], peer[:]) {
		return "", Era{}, &handshakeError{reason: "peer echoed our nonce (reflection attempt)"}
	}
	var mine []byte // this side's era block, version 2 only
	if version == handshakeV2 {
		mine = eraHello{era: ownEra, state: ownState}.block()
	}

	peerRole := roleListener
	if p.role == roleListener {
		peerRole = roleDialer
	}
	// covered is what a proof covers beyond the version 1 fields: in
	// version 2, the version and the dialer's era, and for the
	// listener's proof its own era too.
	covered := func(dialer, listener []byte) []byte {
		if version == handshakeV1 {
			return nil
		}
		return append(append([]byte{handshakeV2}, dialer...), listener...)
	}
	sendProof := func(eras []byte) error {
		mac := handshakeMAC(p.secret, p.role, own, peer, p.nodeID, cb, eras)
		msg := make([]byte, 0, 1+len(p.nodeID)+len(mine)+len(mac))
		msg = append(msg, byte(len(p.nodeID)))
		msg = append(msg, p.nodeID...)
		msg = append(msg, mine...)
		msg = append(msg, mac...)
		if _, err := conn.Write(msg); err != nil {
			return ioFailure("sending proof", err)
		}
		return nil
	}
	// checkProof reads the peer's proof and era, and checks the proof
	// over what eras returns for the era block read.
	checkProof := func(eras func(theirs []byte) []byte) (string, eraHello, []byte, error) {
		id, err := readProofID(conn)
		if err != nil {
			return "", eraHello{}, nil, err
		}
		theirs, h := []byte(nil), v1Hello
		if version == handshakeV2 {
			if theirs, h, err = readEraBlock(conn); err != nil {
				return "", eraHello{}, nil, err
			}
		}
		mac, err := readProofMAC(conn)
		if err != nil {
			return "", eraHello{}, nil, err
		}
		want := handshakeMAC(p.secret, peerRole, peer, own, id, cb, eras(theirs))
		if !hmac.Equal(mac, want) {
			return "", eraHello{}, nil, &handshakeError{reason: fmt.Sprintf("invalid proof from node %q (wrong secret, replay or reflection)", id)}
		}
		return id, h, theirs, nil
	}

	// The dialer proves first; the listener answers only a valid proof,
	// and both then decide on the other's era.
	if p.role == roleDialer {
		if err := sendProof(covered(mine, nil)); err != nil {
			return "", Era{}, err
		}
		id, theirs, _, err := checkProof(func(b []byte) []byte { return covered(mine, b) })
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", Era{}, &handshakeError{reason: "peer closed the connection after our proof (did it refuse our secret?)", err: err}
		}
		if err != nil {
			return "", Era{}, err
		}
		era, err := p.era.meet(id, theirs.era, theirs.state)
		return id, era, err
	}
	id, theirs, block, err := checkProof(func(b []byte) []byte { return covered(b, nil) })
	if err != nil {
		return "", Era{}, err
	}
	if err := sendProof(covered(block, mine)); err != nil {
		return "", Era{}, err
	}
	era, err = p.era.meet(id, theirs.era, theirs.state)
	return id, era, err
}

// handshakeMAC is HMAC-SHA256(secret, label || role || own nonce || peer
// nonce || len(id) || id || eras || channel binding), eras being empty in
// version 1 and, in version 2, the version byte and the era blocks the
// proof covers (each says its own length). Every field but the last has a
// fixed or prefixed length, so no two inputs share an encoding.
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

func writeHello(conn net.Conn, version byte, nonce [handshakeNonceLen]byte) error {
	msg := make([]byte, 0, len(handshakeMagic)+1+handshakeNonceLen)
	msg = append(msg, handshakeMagic[:]...)
	msg = append(msg, version)
	msg = append(msg, nonce[:]...)
	if _, err := conn.Write(msg); err != nil {
		return ioFailure("sending hello", err)
	}
	return nil
}

// readHello reads the magic and version first, so that garbage is refused
// before anything else is read.
func readHello(conn net.Conn) (version byte, nonce [handshakeNonceLen]byte, err error) {
	var head [len(handshakeMagic) + 1]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		return 0, nonce, ioFailure("reading hello", err)
	}
	if [4]byte(head[:4]) != handshakeMagic {
		if head[0] == 0x16 && head[1] == 0x03 {
			return 0, nonce, &handshakeError{reason: "peer started a TLS handshake; is TLS enabled on one side only?"}
		}
		return 0, nonce, &handshakeError{reason: fmt.Sprintf("bad protocol magic %q", head[:4])}
	}
	version = head[4]
	if version != handshakeV1 && version != handshakeV2 {
		return 0, nonce, &handshakeError{reason: fmt.Sprintf("unsupported protocol version %d (want %d or %d)", version, handshakeV1, handshakeV2)}
	}
	if _, err := io.ReadFull(conn, nonce[:]); err != nil {
		return 0, nonce, ioFailure("reading hello", err)
	}
	return version, nonce, nil
}

// readProofID reads the node ID that opens a proof.
func readProofID(conn net.Conn) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return "", ioFailure("reading proof", err)
	}
	if n[0] == 0 || n[0] > maxNodeIDLen {
		return "", &handshakeError{reason: fmt.Sprintf("node ID length %d out of range 1..%d", n[0], maxNodeIDLen)}
	}
	id := make([]byte, n[0])
	if _, err := io.ReadFull(conn, id); err != nil {
		return "", ioFailure("reading proof", err)
	}
	return string(id), nil
}

// readProofMAC reads the MAC that ends a proof.
func readProofMAC(conn net.Conn) ([]byte, error) {
	mac := make([]byte, handshakeMACLen)
	if _, err := io.ReadFull(conn, mac); err != nil {
		return nil, ioFailure("reading proof", err)
	}
	return mac, nil
}
