package consensus

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/eventstore"
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
	// plus one; it is only shown.
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

// eraRecord is eraFile's content: the era and where it comes from.
type eraRecord struct {
	Gen uint64 `json:"gen"`
	ID  string `json:"id"`
	// Made is "recover", "restore" or "joined".
	Made string `json:"made"`
	// By is the node that made it (the recovered or restored node), or for
	// "joined" the node this one took it from.
	By string    `json:"by"`
	At time.Time `json:"at"`
	// Recovered is set for an era a recover started, kept when another
	// node takes it, and Ancestors are its ancestors' IDs (Era.Ancestors).
	Recovered bool     `json:"recovered,omitempty"`
	Ancestors []string `json:"ancestors,omitempty"`
	// Servers are, for a recover, the IDs of the servers it made the
	// cluster, sorted, and Index the last index of the Raft log it left:
	// run again before anyone joined and before the node started, a
	// recover starts from the same parent.
	Servers []string `json:"servers,omitempty"`
	Index   uint64   `json:"index,omitempty"`
	// Bases are, for a recover run again before the node started, the
	// eras it could have started from: the era the node last ran in, then
	// each one a recover made since (Recover). Alts are the IDs of the
	// eras it would have made from each but the first: the node takes one
	// of them from a peer that proves it while its log is still at Index.
	Bases []baseRecord `json:"bases,omitempty"`
	Alts  []string     `json:"alts,omitempty"`
	// SupersededBy records the era that left this node out (meet), so
	// that it stays out across restarts, and a recover run on it with
	// the survivors' list takes their era.
	SupersededBy *supersededRecord `json:"superseded_by,omitempty"`
}

// baseRecord is an era as eraRecord.Bases keeps it.
type baseRecord struct {
	Gen       uint64 `json:"gen"`
	ID        string `json:"id"`
	Recovered bool   `json:"recovered,omitempty"`
	Ancestors string `json:"ancestors,omitempty"` // hex of Era.Ancestors
}

func baseOf(e Era) baseRecord {
	return baseRecord{Gen: e.Gen, ID: hex.EncodeToString(e.ID[:]), Recovered: e.Recovered, Ancestors: hex.EncodeToString([]byte(e.Ancestors))}
}

func (b baseRecord) era() Era {
	id, err1 := hex.DecodeString(b.ID)
	anc, err2 := hex.DecodeString(b.Ancestors)
	if err1 != nil || err2 != nil || len(id) != 16 || len(anc)%16 != 0 {
		return Era{}
	}
	return Era{Gen: b.Gen, ID: [16]byte(id), Recovered: b.Recovered, Ancestors: string(anc)}
}

// supersededRecord is a Superseded as the era file keeps it.
type supersededRecord struct {
	Era  string    `json:"era"` // Era.Token
	ID   string    `json:"id"`
	Peer string    `json:"peer"`
	At   time.Time `json:"at"`
}

func (r eraRecord) era() (Era, error) {
	if r.ID == "" && r.Gen == 0 {
		return Era{}, nil // the zero era, kept for what else the record says
	}
	id, err := hex.DecodeString(r.ID)
	if err != nil || len(id) != 16 || r.Gen == 0 || [16]byte(id) == [16]byte{} {
		return Era{}, fmt.Errorf("%s: not an era (gen %d, id %q)", eraFile, r.Gen, r.ID)
	}
	e := Era{Gen: r.Gen, ID: [16]byte(id), Recovered: r.Made == "recover" || r.Recovered}
	if len(r.Ancestors) > maxAncestors {
		return Era{}, fmt.Errorf("%s: %d ancestors, at most %d", eraFile, len(r.Ancestors), maxAncestors)
	}
	var anc []byte
	for _, a := range r.Ancestors {
		b, err := hex.DecodeString(a)
		if err != nil || len(b) != 16 {
			return Era{}, fmt.Errorf("%s: not an era's ancestor (%q)", eraFile, a)
		}
		anc = append(anc, b...)
	}
	e.Ancestors = string(anc)
	return e, nil
}

// recordOf is the record of era e, made as made by by; the zero era's has
// no ID, and writeEra removes the file for it.
func recordOf(e Era, made, by string) eraRecord {
	if e.IsZero() {
		return eraRecord{Made: made, By: by}
	}
	r := eraRecord{Gen: e.Gen, ID: hex.EncodeToString(e.ID[:]), Made: made, By: by, At: time.Now().UTC(), Recovered: e.Recovered}
	for i := 0; i+16 <= len(e.Ancestors); i += 16 {
		r.Ancestors = append(r.Ancestors, hex.EncodeToString([]byte(e.Ancestors[i:i+16])))
	}
	return r
}

// readEra reads dir's era record (zero if there is none).
func readEra(dir string) (eraRecord, Era, error) {
	b, err := os.ReadFile(filepath.Join(dir, eraFile))
	if errors.Is(err, fs.ErrNotExist) {
		return eraRecord{}, Era{}, nil
	}
	if err != nil {
		return eraRecord{}, Era{}, err
	}
	var r eraRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return eraRecord{}, Era{}, fmt.Errorf("read %s: %w", filepath.Join(dir, eraFile), err)
	}
	e, err := r.era()
	return r, e, err
}

// writeEra replaces dir's era record, durably; the zero era's is none.
func writeEra(dir string, r eraRecord) error {
	if r.ID == "" && r.SupersededBy == nil {
		return removeSynced(filepath.Join(dir, eraFile))
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return replaceSynced(filepath.Join(dir, eraFile), b)
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

// Superseded says which era, descending from this node's, left it out.
type Superseded struct {
	// Peer is the node that proved the later era.
	Peer string
	// Token is that era (Era.Token), ID its ID.
	Token string
	ID    [16]byte
	At    time.Time
}

// eraBook is a node's era as its Raft connections see it: what its
// handshakes send, and what they decide on meeting a peer's.
type eraBook struct {
	dir      string
	nodeID   string
	hasState func() bool
	// lastIndex, if set, returns the last index of the node's Raft log
	// or snapshots (for Alts, after a recover).
	lastIndex func() uint64
	logger    *slog.Logger

	mu  sync.Mutex // serializes meet, so that two peers never both adopt
	own atomic.Pointer[Era]
	rec eraRecord // what the era file holds (under mu)
	// open counts the connections accepted or dialed in each era that are
	// not closed yet (under mu): a node without state takes another era
	// only when none of its current one is open, so that no request read
	// on one before can reach Raft after.
	open map[[16]byte]int

	superseded atomic.Pointer[Superseded]
}

// newEraBook reads dir's era. hasState reports whether the node holds any
// Raft state (a log entry or a snapshot) at the moment it is asked.
func newEraBook(dir, nodeID string, hasState func() bool, logger *slog.Logger) (*eraBook, error) {
	rec, e, err := readEra(dir)
	if err != nil {
		return nil, err
	}
	b := &eraBook{dir: dir, nodeID: nodeID, hasState: hasState, logger: logger, rec: rec, open: map[[16]byte]int{}}
	b.own.Store(&e)
	if sb := rec.SupersededBy; sb != nil {
		id, _ := hex.DecodeString(sb.ID)
		b.superseded.Store(&Superseded{Peer: sb.Peer, Token: sb.Era, ID: [16]byte(append(id, make([]byte, 16)...)[:16]), At: sb.At})
		logger.Error("this node was left out of its cluster by a cluster recover, as it found before it last stopped: it takes no part in Raft and serves nothing. "+
			"If it was meant to be one of the survivors and has not run since they were recovered, stop it and run cluster recover on it with the same -voter list as on the others; "+
			"otherwise move its data dir aside and start it again to join as a new node",
			"action", "raft.superseded", "own_era", e.String(), "era", sb.Era, "proved_by", sb.Peer, "at", sb.At)
	}
	return b, nil
}

// state reports whether the node counts as holding Raft state: it does,
// or it made its era itself (a recover, or a restore about to found its
// cluster), which no peer's may replace.
func (b *eraBook) state() bool {
	return b.rec.Made == "recover" || b.rec.Made == "restore" || b.hasState()
}

// hello is what this node's handshakes send: its era, and whether it holds
// Raft state.
func (b *eraBook) hello() (Era, bool) {
	if b == nil {
		return Era{}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return *b.own.Load(), b.state()
}

// Era returns the node's era.
func (b *eraBook) Era() Era {
	if b == nil {
		return Era{}
	}
	return *b.own.Load()
}

// errSuperseded is the error of every Raft connection and request of a
// superseded node.
var errSuperseded = errors.New("this node was left out of its cluster by a cluster recover")

// meet decides on a peer's proved era and hello, and returns the era the
// connection is of if it may go ahead (counted open until released).
func (b *eraBook) meet(peer string, theirs Era, theirState bool) (Era, error) {
	if b == nil {
		if theirs.IsZero() {
			return Era{}, nil
		}
		return Era{}, &handshakeError{reason: fmt.Sprintf("node %q is of era %s; this node keeps none", peer, theirs)}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.superseded.Load(); s != nil {
		return Era{}, &handshakeError{reason: "superseded", err: errSuperseded}
	}
	own := *b.own.Load()
	if b.takesAlt(theirs) {
		rec := recordOf(theirs, "recover", b.nodeID)
		rec.Servers, rec.Index = b.rec.Servers, b.rec.Index
		if err := writeEra(b.dir, rec); err != nil {
			return Era{}, &handshakeError{reason: "record the era of node " + peer, err: err}
		}
		b.own.Store(&theirs)
		b.rec = rec
		b.logger.Info("this node, recovered again before it started, takes the era its peer was recovered into from the era it replaced",
			"action", "raft.era_joined", "era", theirs.String(), "was", own.String(), "from", peer)
		own = theirs
	}
	switch decideEra(own, b.state(), theirs, theirState) {
	case eraAccept:
		b.open[own.ID]++
		return own, nil
	case eraAdopt:
		if n := b.open[own.ID]; n > 0 {
			return Era{}, &handshakeError{reason: fmt.Sprintf("node %q is of era %s; this node, without Raft state yet, still has %d connections of era %s open", peer, theirs, n, own)}
		}
		rec := recordOf(theirs, "joined", peer)
		if err := writeEra(b.dir, rec); err != nil {
			return Era{}, &handshakeError{reason: "record the era of node " + peer, err: err}
		}
		b.own.Store(&theirs)
		b.rec = rec
		b.open[theirs.ID]++
		b.logger.Info("this node, without Raft state yet, takes the era of the node that reached it", "action", "raft.era_joined", "era", theirs.String(), "was", own.String(), "from", peer)
		return theirs, nil
	case eraSuperseded:
		s := &Superseded{Peer: peer, Token: theirs.Token(), ID: theirs.ID, At: time.Now().UTC()}
		b.superseded.Store(s)
		rec := b.rec
		rec.SupersededBy = &supersededRecord{Era: s.Token, ID: hex.EncodeToString(s.ID[:]), Peer: peer, At: s.At}
		if own.IsZero() {
			rec.Made, rec.By, rec.At = "superseded", peer, s.At // a file for the zero era, read back as the zero era
		}
		if err := writeEra(b.dir, rec); err != nil {
			b.logger.Warn("cannot record that this node was left out: a restart will take part in Raft until it meets the survivors again", "err", err)
		} else {
			b.rec = rec
		}
		b.logger.Error("this node was left out of its cluster by a cluster recover: it takes no further part in Raft and serves nothing. "+
			"If it was meant to be one of the survivors and has not run since they were recovered, stop it and run cluster recover on it with the same -voter list as on the others; "+
			"otherwise move its data dir aside and start it again to join as a new node",
			"action", "raft.superseded", "own_era", own.String(), "era", theirs.String(), "proved_by", peer)
		return Era{}, &handshakeError{reason: fmt.Sprintf("node %q is of era %s, recovered from this node's (%s) without it, directly or by later recovers", peer, theirs, own), err: errSuperseded}
	case eraOlder:
		return Era{}, &handshakeError{reason: fmt.Sprintf("node %q holds the history of era %s, which this cluster's (%s) was recovered from: a node the recover left out", peer, theirs, own)}
	}
	return Era{}, &handshakeError{reason: fmt.Sprintf("node %q is of another era (%s, this node's %s): a cluster restored beside it, or recovered with other servers", peer, theirs, own)}
}

// takesAlt reports whether the node, recovered again before it started,
// is to take era theirs, one it would have made from another base
// (eraRecord.Alts): its log is still where that recover left it, so each
// fits its data.
func (b *eraBook) takesAlt(theirs Era) bool {
	if !slices.Contains(b.rec.Alts, hex.EncodeToString(theirs.ID[:])) || b.lastIndex == nil || b.open[b.own.Load().ID] > 0 {
		return false
	}
	return b.lastIndex() == b.rec.Index
}

// release counts a connection of era id closed.
func (b *eraBook) release(id [16]byte) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open[id]--; b.open[id] <= 0 {
		delete(b.open, id)
	}
}

// Superseded reports the era that left this node out, if one did.
func (b *eraBook) Superseded() *Superseded {
	if b == nil {
		return nil
	}
	return b.superseded.Load()
}

// replaceSynced writes b to path through a temporary file renamed over it,
// so that a crash leaves the old content or the new, durably.
func replaceSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := writeSynced(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// openEra reads the node's era, and starts one for a node about to found a
// cluster on a restored event store (no Raft state, nothing applied, events
// held) before any peer can reach it: the old nodes beside it, of the
// history the backup came from, then meet a later era.
func openEra(cfg Config, logs walLog, snaps raft.SnapshotStore, store *eventstore.Store) (*eraBook, error) {
	hasState := func() bool {
		if last, err := logs.LastIndex(); err != nil || last > 0 {
			return true
		}
		metas, err := snaps.List()
		return err != nil || len(metas) > 0
	}
	b, err := newEraBook(cfg.Dir, cfg.NodeID, hasState, cfg.Logger)
	if err != nil {
		return nil, err
	}
	b.lastIndex = func() uint64 {
		last, _ := lastRaftIndex(logs, snaps)
		return last
	}
	if !cfg.Bootstrap || hasState() || store.Head() == 0 || !b.Era().IsZero() {
		return b, nil
	}
	applied, _, err := store.Applied(context.Background())
	if err != nil || applied > 0 {
		return b, err // (Open refuses a store that applied entries without a log)
	}
	e, err := restoredEra()
	if err != nil {
		return nil, err
	}
	rec := recordOf(e, "restore", cfg.NodeID)
	if err := writeEra(cfg.Dir, rec); err != nil {
		return nil, fmt.Errorf("record the era of the restored cluster: %w", err)
	}
	b.mu.Lock()
	b.own.Store(&e)
	b.rec = rec
	b.mu.Unlock()
	cfg.Logger.Info("this node founds a cluster of a new era on a restored backup: it and the nodes of the history before it refuse each other",
		"action", "raft.era_started", "era", e.String())
	return b, nil
}

// Superseded reports the era that left this node out, if one did
// (era.go): the node then takes no part in Raft and must serve nothing,
// its data being a history the cluster no longer follows.
func (n *Node) Superseded() *Superseded { return n.era.Superseded() }

// Era returns the node's era (zero for a cluster founded as usual).
func (n *Node) Era() Era { return n.era.Era() }
