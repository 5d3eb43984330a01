package consensus

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
)

// Eras: which of two histories of one cluster is the current one.
//
// `agenda cluster recover` makes the survivors of a lost majority the whole
// cluster, and a node that founds a cluster on a restored backup starts a
// history of its own. The nodes left out still hold the old configuration,
// in which they are a majority, and hashicorp/raft follows any leader whose
// term is not behind its own, configuration or not (raft.go,
// appendEntries; only votes check the configuration). Operations reviews
// started two left-out nodes of three with their data after a recover, and
// two old nodes beside a restored one: each time the old nodes elected a
// leader, the new cluster's node followed it, and its Raft log took the old
// history while its event store kept the new one (logins that worked on
// one node failed on the others, and no log said a word).
//
// So a recover, and a cluster founded on a restore, start a new era, kept
// in the Raft directory (eraFile): an ID, and for a recover the eras it
// descends from (its ancestors: the era it recovered, that one's, and so
// on). Every Raft connection's handshake carries
// both sides' eras, covered by the proofs so that neither can be claimed
// without the cluster secret, and whether each side holds Raft state; each
// side decides on what the other proved (decideEra):
//
//   - the same era: the connection goes ahead;
//   - a node without Raft state (a new node, or one that lost its Raft
//     directory) takes the era of whoever reaches it, as it takes that
//     node's log, and its connections of another era are closed (PeerConn);
//   - a node with Raft state meeting an era that descends from its own was
//     left out of a recover: it is superseded. It refuses the connection,
//     takes no further part in Raft, asks to join nobody, and serves
//     nothing, saying why, until it is restarted (as a new node, its data
//     dir moved aside; or recovered with the others, if it was meant to be
//     a survivor);
//   - any other two eras refuse each other, and neither gives way: the node
//     of the recovered era refuses its ancestors' nodes, a restored cluster
//     and its old nodes refuse each other, as do two recovers run with
//     different servers, or a copy restored for a drill beside the cluster
//     it came from.
//
// Nothing is relayed: a node is superseded only by what a peer proved to it
// in a handshake, and only by an era descending from its own, so a mistake
// cannot spread beyond the nodes that met the new era. The nodes of the old
// history find it one by one: the first to dial the new era stops, its
// former followers elect without it and dial the new era in turn. A leader
// also refuses to admit a node that holds Raft state of another era
// (CheckHistory), which would otherwise count in its quorum unreachable.
//
// A cluster founded as usual has no era (the zero Era), as every cluster of
// an older build, and its nodes' handshakes are those of older builds
// (version 1), so rolling an upgrade back stays possible until a recover or
// a restore starts an era; older builds are refused by its nodes.

// eraFile holds a Raft directory's era, absent for the zero era.
const eraFile = "era"

// Era names one history of a cluster. The zero Era is the history of a
// cluster founded as usual. Eras compare with ==.
type Era struct {
	// Gen counts the recovers since the cluster was founded or restored,
	// plus one: shown, and a floor of the terms a recover moves to
	// (termFloor).
	Gen uint64
	ID  [16]byte
	// Recovered says a recover started it: its nodes supersede those of
	// the eras it descends from.
	Recovered bool
	// Ancestors are, for an era a recover started, the IDs of the eras it
	// descends from, nearest first, 16 bytes each and at most
	// maxAncestors: the era it recovered, that one's, and so on back to
	// the zero era or a restore's.
	Ancestors string
}

// maxAncestors bounds the ancestors an era keeps: a node left out more
// recovers ago than that is refused, not told.
const maxAncestors = 16

// descends reports whether e is an era a recover started from id, or from
// an era that did, and so on.
func (e Era) descends(id [16]byte) bool {
	if !e.Recovered {
		return false
	}
	for i := 0; i+16 <= len(e.Ancestors); i += 16 {
		if e.Ancestors[i:i+16] == string(id[:]) {
			return true
		}
	}
	return false
}

// parent is the era e was recovered from, as far as e knows it (its
// generation, ID and own ancestors; zero if e has none).
func (e Era) parent() Era {
	if len(e.Ancestors) < 16 {
		return Era{}
	}
	p := Era{Gen: max(e.Gen, 1) - 1, ID: [16]byte([]byte(e.Ancestors[:16])), Ancestors: e.Ancestors[16:]}
	p.Recovered = p.Ancestors != ""
	return p
}

// IsZero reports whether e is the era of a cluster founded as usual.
func (e Era) IsZero() bool { return e.ID == [16]byte{} }

func (e Era) String() string {
	if e.IsZero() {
		return "0"
	}
	return fmt.Sprintf("%d/%s", e.Gen, hex.EncodeToString(e.ID[:4]))
}

// Token is e in full, as a join carries it ("" for the zero era).
func (e Era) Token() string {
	if e.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d-%x", e.Gen, e.ID)
}

// nextEra is the era a recover to servers starts from prev: one generation
// on, with an ID that depends only on prev and the servers, so that every
// survivor recovered with the same list takes the same era.
func nextEra(prev Era, servers []Server) Era {
	ids := serverIDs(servers)
	h := sha256.New()
	h.Write([]byte("agenda-era-v1"))
	h.Write(prev.ID[:])
	h.Write(binary.BigEndian.AppendUint64(nil, prev.Gen+1))
	for _, id := range ids {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(id))))
		h.Write([]byte(id))
	}
	anc := string(prev.ID[:]) + prev.Ancestors
	return Era{Gen: prev.Gen + 1, ID: [16]byte(h.Sum(nil)), Recovered: true, Ancestors: anc[:min(len(anc), maxAncestors*16)]}
}

// serverIDs returns the servers' IDs, sorted.
func serverIDs(servers []Server) []string {
	ids := make([]string, 0, len(servers))
	for _, s := range servers {
		ids = append(ids, s.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// restoredEra is the era a cluster founded on a restored backup starts:
// a random ID and no parent, so that it supersedes nobody. Its old nodes
// and it refuse each other: a restore drill beside the cluster it came from
// must not stop that cluster.
func restoredEra() (Era, error) {
	e := Era{Gen: 1}
	if _, err := rand.Read(e.ID[:]); err != nil {
		return Era{}, err
	}
	return e, nil
}

// eraVerdict is what meeting a peer's era decides.
type eraVerdict int

const (
	eraAccept     eraVerdict = iota // the same era, or a peer that takes ours
	eraAdopt                        // we have no Raft state: take the peer's era
	eraSuperseded                   // the peer's era descends from ours by recovers, without us
	eraOlder                        // our era descends from the peer's
	eraForeign                      // unrelated eras
)

// decideEra decides what meeting a peer of era theirs means for a node of
// era own. A side without Raft state holds no history yet: it takes the
// other's era, whichever it is.
func decideEra(own Era, ownState bool, theirs Era, theirState bool) eraVerdict {
	switch {
	case own.ID == theirs.ID:
		return eraAccept
	case !ownState:
		return eraAdopt
	case !theirState:
		return eraAccept
	case theirs.descends(own.ID):
		return eraSuperseded
	case own.descends(theirs.ID):
		return eraOlder
	}
	return eraForeign
}
