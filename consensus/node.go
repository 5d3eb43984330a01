package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/internal/fastjson"
)

// Node is one replica of the Raft log and its event store.
type Node struct {
	// sinceRecover says the node has run no Raft since a recover (see
	// Open and Unproven).
	sinceRecover bool

	cfg       Config
	raft      *raft.Raft
	fsm       *fsm
	logStore  walLog
	logs      raft.LogStore // logStore behind its cache
	transport *gatedTransport
	store     *eventstore.Store
	gate      *voteGate
	era       *eraBook
	// pacer sets the snapshot threshold and makes every change to Raft's
	// reloadable configuration (snapshot_pacing.go).
	pacer *snapshotPacer

	// appliedAtOpen is the store's applied index when the node started
	// (Close clears an earlier halt's record once the FSM went past it).
	appliedAtOpen uint64

	// readTerm is the term in which this node, as leader, last saw its own
	// barrier applied: from then on its commit index is safe for reads.
	readTerm  atomic.Uint64
	hb        heartbeats
	publisher commitPublisher
	observer  *raft.Observer
	obsCh     chan raft.Observation
	obsDone   chan struct{}
}

// Open starts the Raft node over store. With cfg.Bootstrap and no existing
// state it bootstraps a single-node cluster; on restart it recovers from its
// log and snapshots.
func Open(cfg Config, store *eventstore.Store) (*Node, error) {
	cfg.setDefaults()
	if cfg.NodeID == "" {
		return nil, errors.New("consensus: empty node ID")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.NodeID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = 5 * time.Millisecond
	// A paced threshold is set below, from the latest snapshot's index.
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.MaxAppendEntries = 256
	// The event store is durable and records its applied index, so a
	// restart need not reload the last snapshot: raft replays the entries
	// after it and the FSM skips those it already has.
	rc.NoSnapshotRestoreOnStart = true
	// hashicorp/raft logs every election at WARN, including the expected
	// one at start; its log follows ours only when we debug.
	raftLevel := hclog.Error
	if cfg.Logger.Enabled(context.Background(), slog.LevelDebug) {
		raftLevel = hclog.Debug
	}
	rc.Logger = newRaftLogger(cfg.Logger, raftLevel)

	logStore, err := openLogStore(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	// The cache holds the newest entries whatever their size, and an
	// appointment imposed on a 200-member group is one entry of some
	// 200 KB: 1,024 of those held 200 MB. 256 covers what followers and
	// the FSM read back under load (they trail by a few entries).
	cached, err := raft.NewLogCache(logCacheEntries, logStore)
	if err != nil {
		logStore.Close()
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStore(cfg.Dir, 2, io.Discard)
	if err != nil {
		logStore.Close()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	if err := logCovered(cfg.Dir, logStore, snaps); err != nil {
		logStore.Close()
		return nil, err
	}

	era, err := openEra(cfg, logStore, snaps, store)
	if err != nil {
		logStore.Close()
		return nil, err
	}
	// A node that has run no Raft since its recover (its log ends where
	// the recover left it) cannot tell its store from a history the
	// other survivors did not keep until a leader's entries reach it
	// (Unproven): a fault review read such writes through plain reads
	// on a survivor that could not even take the leader's snapshot.
	sinceRecover := false
	if r := era.rec; r.madeHere() && r.Index > 0 {
		last, err := lastRaftIndex(logStore, snaps)
		sinceRecover = err == nil && last == r.Index
	}
	layer, err := NewStreamLayer(StreamConfig{
		BindAddr:      cfg.BindAddr,
		AdvertiseAddr: cfg.AdvertiseAddr,
		Secret:        cfg.Secret,
		TLS:           cfg.TLS,
		NodeID:        cfg.NodeID,
		OnReject:      cfg.OnReject,
		Logger:        cfg.Logger,
		era:           era,
	})
	if err != nil {
		logStore.Close()
		return nil, fmt.Errorf("raft transport: %w", err)
	}
	tcfg := &raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "raft-net", Output: io.Discard}),
		// One AppendEntries in flight per follower: hashicorp/raft's
		// pipelined replication (the default, 2) can deadlock once a
		// follower answers "not accepted" (its decoder exits, the sender
		// then blocks on a channel nobody reads, and the pipeline's own
		// shutdown is deferred behind that send): the follower is never
		// replicated to again until the leader restarts, and Raft's
		// shutdown hangs. TestLinearizability saw the hang under load
		// (goroutine dump: replicate → pipelineSend →
		// netPipeline.AppendEntries); grafana/pyroscope#5518 describes
		// the same deadlock and this same way out. It also keeps every
		// AppendEntries on Transport.AppendEntries, where the read index's
		// quorum check counts them (acks.go); with pipelining, only
		// heartbeats would count, which is still sound.
		MaxRPCsInFlight: 1,
	}
	if cfg.ServerAddr != nil {
		tcfg.ServerAddressProvider = addressProvider(cfg.ServerAddr)
	}
	transport := raft.NewNetworkTransportWithConfig(tcfg)

	if err := catchUpFromSnapshot(snaps, store, cfg.Logger); err != nil {
		transport.Close()
		logStore.Close()
		return nil, err
	}

	pacer := &snapshotPacer{}
	if cfg.SnapshotThreshold == 0 {
		pacer.floor = cfg.snapshotFloor
		rc.SnapshotThreshold = pacer.floor
		// A list that cannot be read leaves the floor: the next snapshot
		// paces again.
		if metas, err := snaps.List(); err == nil && len(metas) > 0 {
			rc.SnapshotThreshold = pacedThreshold(pacer.floor, metas[0].Index)
		}
	}
	f := &fsm{store: store, logger: cfg.Logger, logs: cached, onSnapshot: pacer.wrap(cfg.Hooks.Snapshot), haltMark: filepath.Join(cfg.Dir, haltedFile)}
	if err := f.load(); err != nil {
		transport.Close()
		logStore.Close()
		return nil, fmt.Errorf("read the event store's applied index: %w", err)
	}
	applied := f.index.Load()
	has, err := raft.HasExistingState(cached, logStore, snaps)
	if err != nil {
		transport.Close()
		logStore.Close()
		return nil, err
	}
	forgot, err := forgotten(has, cached, logStore, snaps, applied)
	if err != nil {
		transport.Close()
		logStore.Close()
		return nil, err
	}
	if !has && !cfg.Bootstrap && applied == 0 && store.Head() > 0 {
		// A restored event store founds its cluster alone: joining one,
		// or founding one with others, its history would be in no entry
		// they were sent, and theirs applied on top of it.
		transport.Close()
		logStore.Close()
		return nil, ErrRestoredNotAlone
	}
	fresh := cfg.Bootstrap && !has
	if fresh && applied > 0 {
		transport.Close()
		logStore.Close()
		return nil, lostRaftLog(forgot)
	}
	// A node founding a new cluster alone has nobody to mislead; any other
	// node that may have forgotten what it acknowledged (no Raft state, or
	// only part of it) may not vote until it has caught up (see
	// votegate.go). A node started without seeds bootstraps only the first
	// time: others may have joined it since.
	gate, err := newVoteGate(cfg.Dir, forgot != "" && !fresh, cfg.Logger)
	if err == nil && fresh {
		err = gate.open("single-node cluster")
	}
	if err != nil {
		transport.Close()
		logStore.Close()
		return nil, err
	}
	if gate.closed.Load() {
		if forgot == "" {
			forgot = "it had not caught up when it last stopped"
		}
		cfg.Logger.Info("this node takes no part in elections until it has caught up with the cluster", "why", forgot)
	}
	restored := filepath.Join(cfg.Dir, restoredFile)
	if fresh && store.Head() > 0 {
		// A restored event store (applied index cleared) founds a new
		// cluster: its history is in no Raft entry, so the new log must
		// start with a snapshot of it (see compactRestoredHistory).
		if err := writeSynced(restored, nil); err != nil && !errors.Is(err, fs.ErrExist) {
			// (It exists if a start before this one died before it
			// bootstrapped.)
			transport.Close()
			logStore.Close()
			return nil, fmt.Errorf("mark the restored history: %w", err)
		}
	}
	if cfg.Bootstrap {
		if !has {
			cfg.Logger.Info("bootstrapping single-node raft cluster", "raft_addr", transport.LocalAddr())
			conf := raft.Configuration{Servers: []raft.Server{{
				ID: rc.LocalID, Address: transport.LocalAddr(), Suffrage: raft.Voter,
			}}}
			if err := raft.BootstrapCluster(rc, cached, logStore, snaps, transport, conf); err != nil {
				transport.Close()
				logStore.Close()
				return nil, fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	gated := newGatedTransport(transport, gate, rc.LocalID, era)
	r, err := raft.NewRaft(rc, f, cached, logStore, snaps, gated)
	if err != nil {
		gated.Close()
		logStore.Close()
		return nil, fmt.Errorf("start raft: %w", err)
	}
	pacer.start(r)
	// The only voter of its cluster can mislead nobody, and nobody could
	// ever open its gate: it votes, unless it forgot entries it applied,
	// which no one else holds and new entries would be numbered over.
	alone := soleVoter(r, rc.LocalID)
	if gate.closed.Load() && alone {
		if forgot != "" && applied > 0 {
			r.Shutdown().Error()
			gated.Close()
			logStore.Close()
			return nil, lostRaftLog(forgot)
		}
		if err := gate.open("the only voter of its cluster"); err != nil {
			r.Shutdown().Error()
			gated.Close()
			logStore.Close()
			return nil, err
		}
	}
	// A node started without seeds founds a cluster when it has no Raft
	// state at all, which after others joined it means a second cluster
	// under the same ID: say so while it can still be fixed.
	if cfg.Bootstrap && !alone {
		cfg.Logger.Warn("this node was started without seeds, but its cluster has other voters: give it DISCOVERY_SEEDS " +
			"naming them, or after losing its data dir it would found a new cluster alone instead of rejoining")
	}
	layer.SetKnownPeers(ConfiguredPeers(r)) // handshake slots kept for them
	n := &Node{cfg: cfg, raft: r, fsm: f, appliedAtOpen: applied, logStore: logStore, logs: cached, transport: gated, store: store, gate: gate, era: era, pacer: pacer, sinceRecover: sinceRecover}
	n.publisher.barrier = n.publishBarrier
	n.startObserver()
	if _, err := os.Stat(restored); err == nil {
		if err := n.compactRestoredHistory(restored); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// addressProvider adapts Config.ServerAddr to raft.ServerAddressProvider.
type addressProvider func(id string) (string, bool)

var errAddrUnknown = errors.New("no current address known")

func (p addressProvider) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if addr, ok := p(string(id)); ok && addr != "" {
		return raft.ServerAddress(addr), nil
	}
	return "", errAddrUnknown
}

// Close shuts Raft down and closes its stores. It does not close the event
// store, which the node does not own.
//
// A leader with other voters first hands leadership over, so that a planned
// stop (SIGTERM, a rolling restart) pauses writes for milliseconds instead
// of an election timeout.
func (n *Node) Close() error {
	if n.IsLeader() && n.otherVoters() > 0 {
		if err := n.TransferLeadership(); err != nil {
			n.cfg.Logger.Warn("leadership transfer before shutdown failed", "err", err)
		}
	}
	n.publisher.close()
	err := n.raft.Shutdown().Error()
	n.stopObserver()
	if err == nil && n.fsm.index.Load() > n.appliedAtOpen && fileExists(n.fsm.haltMark) {
		// It applied entries again since it started: whatever halted it
		// before (haltedFile) is behind it.
		if rerr := removeSynced(n.fsm.haltMark); rerr != nil {
			n.cfg.Logger.Warn("could not clear the record of an earlier halt", "err", rerr)
		}
	}
	if cerr := n.transport.Close(); err == nil {
		err = cerr
	}
	if cerr := n.logStore.Close(); err == nil {
		err = cerr
	}
	return err
}

// ID returns the node ID.
func (n *Node) ID() string { return n.cfg.NodeID }

// RaftAddr returns the address Raft listens on.
func (n *Node) RaftAddr() string { return string(n.transport.LocalAddr()) }

// IsLeader reports whether this node currently believes it leads.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the ID and Raft address of the known leader, empty if none.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// WaitLeader waits until a leader is known.
func (n *Node) WaitLeader(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if id, _ := n.Leader(); id != "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ErrNoLeader
		case <-t.C:
		}
	}
}

// Propose replicates b and returns where it landed once the local FSM has
// applied it. A batch the log refuses returns the FSM's verdict:
// *events.VersionConflictError, *events.DuplicateEventError or a wrapped
// events.ErrMalformed. Raft-level failures return ErrNotLeader, ErrNoLeader,
// ErrShutdown or events.ErrOutcomeUnknown.
func (n *Node) Propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	// Refuse here what the FSM would refuse or halt on: an event type this
	// build does not know would otherwise commit and stop every replica.
	if err := b.Validate(); err != nil {
		return events.Committed{}, err
	}
	for i := range b.Events {
		if _, err := b.Events[i].DecodeWith(fastjson.Try); err != nil {
			return events.Committed{}, err
		}
	}
	data, err := encodeBatch(b)
	if err != nil {
		return events.Committed{}, err
	}
	if err := events.CheckBatchSize(b, len(data)-1); err != nil { // the type byte is not the batch's
		return events.Committed{}, err
	}
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
		if timeout <= 0 {
			return events.Committed{}, context.DeadlineExceeded
		}
	}
	began := time.Now()
	f := n.raft.Apply(data, timeout)
	// Apply's timeout only bounds queueing; once the entry is in flight,
	// the caller's context decides how long to wait for its fate.
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		return events.Committed{}, events.ErrOutcomeUnknown
	}
	if h := n.cfg.Hooks.Apply; h != nil {
		h(time.Since(began), err)
	}
	if err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return events.Committed{}, ErrNotLeader
		case errors.Is(err, raft.ErrLeadershipLost):
			return events.Committed{}, events.ErrOutcomeUnknown
		case errors.Is(err, raft.ErrRaftShutdown):
			return events.Committed{}, ErrShutdown
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return events.Committed{}, ErrNoLeader
		}
		return events.Committed{}, fmt.Errorf("raft apply: %w", err)
	}
	res, ok := f.Response().(applyResult)
	if !ok {
		return events.Committed{}, fmt.Errorf("raft apply: unexpected response %T", f.Response())
	}
	return res.Committed, res.Err
}

// logCacheEntries is how many of the newest Raft entries stay in memory.
const logCacheEntries = 256

// Snapshot forces a snapshot and log compaction (used by tests and admins).
func (n *Node) Snapshot() error { return n.raft.Snapshot().Error() }

// catchUpFromSnapshot restores the latest snapshot into the event store if
// the store is behind it. Raft is told not to restore snapshots on start
// (the store is durable and knows its applied index), so this is what covers
// a store that lost its tail, or a data dir whose event store was removed:
// raft only replays the log after its latest snapshot.
func catchUpFromSnapshot(snaps raft.SnapshotStore, store *eventstore.Store, logger *slog.Logger) error {
	list, err := snaps.List()
	if err != nil {
		return fmt.Errorf("list snapshots: %w", err)
	}
	if len(list) == 0 {
		return nil
	}
	applied, _, err := store.Applied(context.Background())
	if err != nil {
		return err
	}
	latest := list[0]
	if applied >= latest.Index {
		return nil
	}
	// The snapshot index also counts entries the FSM never sees (no-ops,
	// barriers), so this may find nothing new; Restore then does nothing.
	logger.Info("event store may be behind the latest raft snapshot; restoring what it lacks", "applied_index", applied, "snapshot_index", latest.Index)
	_, rc, err := snaps.Open(latest.ID)
	if err != nil {
		return fmt.Errorf("open snapshot %s: %w", latest.ID, err)
	}
	defer rc.Close()
	// It may be a leader's, which raft keeps before it hands it to the FSM
	// (a node stopped in between finds it here), or the node's own, which
	// never applied less than the store while covering its last entry, so
	// it marks nothing (eventstore.Store.CatchUp).
	if err := store.CatchUp(context.Background(), rc); err != nil {
		if diverged(err) {
			return fmt.Errorf("restore snapshot %s: %w: %s", latest.ID, err, moveAside)
		}
		return fmt.Errorf("restore snapshot %s: %w", latest.ID, err)
	}
	return nil
}
