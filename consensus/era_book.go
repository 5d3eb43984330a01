package consensus

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/eventstore"
)

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
	logger   *slog.Logger

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
		logger.Error("this node was left out of its cluster by a cluster recover, as it found before it last stopped: it takes no part in Raft and serves nothing. "+SupersededAdvice,
			"action", "raft.superseded", "own_era", e.String(), "era", sb.Era, "proved_by", sb.Peer, "at", sb.At)
	}
	return b, nil
}

// state reports whether the node counts as holding Raft state: it does,
// or it made its era itself (a recover, or a restore about to found its
// cluster), which no peer's may replace.
func (b *eraBook) state() bool {
	return b.rec.madeHere() || b.hasState()
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

// SupersededAdvice is what a node a recover left out tells its operator.
const SupersededAdvice = "If it was meant to be one of the survivors and has not run since they were recovered, stop it and run " +
	"cluster recover on it with the same -voter list as on the others; otherwise move its data dir aside and start it again to join as a new node"

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
		b.logger.Error("this node was left out of its cluster by a cluster recover: it takes no further part in Raft and serves nothing. "+SupersededAdvice,
			"action", "raft.superseded", "own_era", own.String(), "era", theirs.String(), "proved_by", peer)
		return Era{}, &handshakeError{reason: fmt.Sprintf("node %q is of era %s, recovered from this node's (%s) without it, directly or by later recovers", peer, theirs, own), err: errSuperseded}
	case eraOlder:
		return Era{}, &handshakeError{reason: fmt.Sprintf("node %q holds the history of era %s, which this cluster's (%s) was recovered from: a node the recover left out", peer, theirs, own)}
	}
	return Era{}, &handshakeError{reason: fmt.Sprintf("node %q is of another era (%s, this node's %s): a cluster restored beside it, or recovered with other servers", peer, theirs, own)}
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

// openEra reads the node's era, and starts one for a node about to found a
// cluster on a restored event store (no Raft state, nothing applied, events
// held) before any peer can reach it: the old nodes beside it, of the
// history the backup came from, then meet a later era.
func openEra(cfg Config, logs walLog, snaps raft.SnapshotStore, store *eventstore.Store) (*eraBook, error) {
	hasState := func() bool { // the log first: a snapshot is listed from disk
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
