package consensus

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/agendahq/agenda/eventstore"
)

// Recover rewrites the Raft configuration kept in dir (a stopped node's
// Raft directory) to servers: the way out when a majority of the voters is
// gone for good, so that no leader can ever be elected again and no
// membership change can commit. Every surviving node is recovered with
// the same servers, then started; they elect a leader among themselves,
// and new nodes join as usual.
//
// It is hashicorp/raft's RecoverCluster: the node's log is applied to its
// event store first (store must be the node's own), and every entry in the
// log counts as committed, including any the lost majority never
// acknowledged. Run it with the node stopped: it opens the Raft log
// exclusively.
//
// A recover starts a new era (era.go), the same on every survivor of one
// era recovered with the same servers, so that the nodes it leaves out, if
// they start again with their data, are told so and stop instead of
// leading the survivors back into the old history. Run again with the same
// servers before the node started, it keeps the era it started; with
// opts.Correct, it replaces that run (whose list was wrong) instead of
// following it; with opts.Restored (a node restored from a copy of a
// volume), it starts an era of its own, as a restore does, which
// supersedes nobody. It returns the era.
func Recover(dir, nodeID string, servers []Server, opts RecoverOptions, store *eventstore.Store, logger *slog.Logger) (Era, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if len(servers) == 0 {
		return Era{}, errors.New("consensus: recover with no servers")
	}
	self := false
	conf := raft.Configuration{}
	for _, s := range servers {
		self = self || s.ID == nodeID
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address), Suffrage: raft.Voter})
	}
	if !self {
		return Era{}, fmt.Errorf("consensus: recover: this node (%s) is not among the servers", nodeID)
	}
	if _, err := os.Stat(filepath.Join(dir, voteGateFile)); err == nil {
		return Era{}, ErrVoteGated
	}
	// The caller holds the data dir's lock, which a running node holds.
	logStore, snaps, err := openStopped(dir)
	if err != nil {
		return Era{}, fmt.Errorf("consensus: recover: %w", err)
	}
	defer logStore.Close()
	rec, current, err := readEra(dir)
	if err != nil {
		return Era{}, err
	}
	previous, err := lastConfiguration(logStore, snaps)
	if err != nil {
		return Era{}, fmt.Errorf("read the last configuration: %w", err)
	}
	before, err := lastRaftIndex(logStore, snaps)
	if err != nil {
		return Era{}, err
	}
	// A node that has not run since its last recover: its log is where
	// that recover left it, and its configuration that one's.
	unmoved := rec.Made == "recover" && rec.Index == before && within(previous, rec.Servers)
	if opts.Correct && opts.Restored {
		return Era{}, errors.New("consensus: recover: -correct and -restored do not go together")
	}
	if opts.Correct && !unmoved {
		return Era{}, errors.New("consensus: recover: -correct corrects the last recover run on this node before it started, and it has run since (or was never recovered). " +
			"Its era now follows that run's: make this node the survivor, and let the others join it with their data dirs moved aside")
	}
	if err := logCovered(dir, logStore, snaps); err != nil {
		return Era{}, err
	}
	if err := catchUpFromSnapshot(snaps, store, logger); err != nil {
		return Era{}, err
	}
	// Built as Open builds it, so that it applies the log with the same
	// checks, but handed the node's own snapshots. A recover makes this
	// node's store and log the cluster's history: a mark a leader's
	// snapshot left on the store is void (cleared on disk once the recover
	// has succeeded).
	f := &fsm{store: store, logger: logger, logs: logStore, own: true}
	if err := f.load(); err != nil {
		return Era{}, err
	}
	f.unproven.Store(0)
	// A recover starts from the node's era, so that its era supersedes
	// every node of that one it leaves out, and every survivor of one era
	// recovered with the same list takes the same era, whether or not it
	// ran in it. The same recover run again on a node that has not run
	// since (a retried script) keeps its era; one that corrects the last
	// run's list (opts.Correct) makes what that run should have made, so
	// that it takes the era the other survivors took with that list.
	next := nextEra(current, servers)
	retried := unmoved && slices.Equal(rec.Servers, serverIDs(servers)) &&
		(rec.SupersededBy == nil || rec.SupersededBy.ID != hex.EncodeToString(next.ID[:]))
	switch {
	case opts.Restored:
		if next, err = restoredEra(); err != nil {
			return Era{}, err
		}
	case opts.Correct:
		// The era the corrected run started from, or its sibling with the
		// right list; if that era was itself made with the right list, it
		// is the era (the corrected run should have been a retry).
		p := current.parent()
		if pp := p.parent(); !p.IsZero() && nextEra(pp, servers).ID == p.ID {
			next = p
		} else {
			next = nextEra(p, servers)
		}
	case retried:
		// (Unless a peer proved this node was left out by the very era
		// this run makes: the others ran it, as after a whole procedure
		// re-run once one of them had moved.)
		next = current
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(nodeID)
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: os.Stderr})
	_, trans := raft.NewInmemTransport(raft.ServerAddress(servers[0].Address))
	if err := halted(func() error { return applyLogTail(f, logStore) }); err != nil {
		return Era{}, fmt.Errorf("apply the log: %w", err)
	}
	if err := halted(func() error { return raft.RecoverCluster(rc, f, logStore, logStore, snaps, trans, conf) }); err != nil {
		return Era{}, fmt.Errorf("recover cluster: %w", err)
	}
	if err := store.ClearUnproven(context.Background()); err != nil {
		return Era{}, err
	}
	// The term and the era are written once the configuration is: a
	// recover that fails leaves the node in its era, with its peers, and
	// its term where it was (a node of the old cluster with the floor's
	// term would carry that cluster's terms up to it). One that dies in
	// between leaves it unprotected until it is run again.
	if err := raiseTerm(logStore, next); err != nil {
		return Era{}, err
	}
	made := "recover"
	if opts.Restored {
		made = "restore"
	}
	r := recordOf(next, made, nodeID)
	// RecoverCluster snapshots at the log's last index and empties the
	// log: the node's last index is still before.
	r.Servers, r.Index = serverIDs(servers), before
	if err := writeEra(dir, r); err != nil {
		return Era{}, fmt.Errorf("record the recovered cluster's era: %w", err)
	}
	return next, nil
}

// applyLogTail applies the log past what the store applied, configuration
// entries included. RecoverCluster hands the FSM commands only, and the
// snapshot it then takes, which the node sends to every node that joins it,
// must say the store applied every entry the FSM sees: a node whose store
// applied a configuration entry the snapshot covers but did not apply would
// take it for another history (fsm.go, unproven stores).
func applyLogTail(f *fsm, logs raft.LogStore) error {
	first, err := logs.FirstIndex()
	if err != nil {
		return err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return err
	}
	const chunk = 256
	var batch []*raft.Log
	// Entries before the log's first are in the snapshot the store was
	// brought to (catchUpFromSnapshot; Recover checks the log begins
	// after it, as Open does).
	for i := max(first, f.index.Load()+1); i > 0 && i <= last; i++ {
		l := new(raft.Log)
		if err := logs.GetLog(i, l); err != nil {
			return fmt.Errorf("read raft log entry %d: %w", i, err)
		}
		if l.Type != raft.LogCommand && l.Type != raft.LogConfiguration {
			continue
		}
		if batch = append(batch, l); len(batch) == chunk {
			f.ApplyBatch(batch)
			batch = nil
		}
	}
	if len(batch) > 0 {
		f.ApplyBatch(batch)
	}
	return nil
}

// halted runs fn, turning a halt of the state machine (a panic) into an
// error: in a recover, the operator's command fails saying why.
func halted(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return fn()
}

// termBand is the width of the band of terms a recover moves an era to.
const termBand = 1 << 40

// termFloor is the term a recover into era e raises the node's current term
// to: the start of the next band of 2⁴⁰ terms above the node's current term
// cur, and at least e's generation times 2⁴⁰ (survivors of one era, whose
// terms lie in one band, take the same floor).
//
// Survivors recovered with different logs each hold terms their old
// cluster gave, and without the floor the first leader of the new era could
// be elected in a term one of them already holds entries of (pre-vote keeps
// a minority's term where it was): an index and a term would then no
// longer name one entry, the log-matching property every check of the
// history relies on (a fault review saw a node skip the other side's
// entries of the same term as its own, and serve a mix). Above it, the new
// era's entries are of terms no survivor's log holds, and a log of the old
// era can no longer win an election against one holding an entry of the
// new era. It follows the current term rather than the generation alone,
// since a -restored era starts its generations again and a -correct run
// goes back one, while the node keeps the terms its runs reached (a code
// review saw the floor fall below them).
//
// Terms stay below 2⁶², which SQLite's signed integers (the store's applied
// term) hold: 4 million recovers.
func termFloor(e Era, cur uint64) uint64 {
	band := max(e.Gen, cur/termBand+1)
	return min(band, 1<<22) * termBand
}

// raiseTerm raises the node's current term to the floor of era e (never
// lowers it): Raft allows a node's term to grow at any time, and no vote
// was cast in a term above the current one.
func raiseTerm(stable raft.StableStore, e Era) error {
	cur, err := stable.GetUint64(keyCurrentTerm) // 0 if unset
	if err != nil {
		return fmt.Errorf("read the current term: %w", err)
	}
	floor := termFloor(e, cur)
	if cur >= floor {
		return nil
	}
	if err := stable.SetUint64(keyCurrentTerm, floor); err != nil {
		return fmt.Errorf("raise the current term: %w", err)
	}
	return nil
}

// RecoverOptions are Recover's choices beyond the servers.
type RecoverOptions struct {
	// Correct replaces the last recover run on the node, whose list was
	// wrong, before it started.
	Correct bool
	// Restored starts an era of its own, for a node restored from a copy
	// of a volume: like a restore's, it supersedes nobody, so that a
	// drill beside the cluster the copy came from cannot stop it.
	Restored bool
}

// within reports whether every server of conf is among ids.
func within(conf raft.Configuration, ids []string) bool {
	for _, s := range conf.Servers {
		if !slices.Contains(ids, string(s.ID)) {
			return false
		}
	}
	return true
}

// lastConfiguration returns the newest configuration a stopped node's Raft
// log or snapshots hold (empty if none).
func lastConfiguration(logs raft.LogStore, snaps raft.SnapshotStore) (raft.Configuration, error) {
	first, err := logs.FirstIndex()
	if err != nil {
		return raft.Configuration{}, err
	}
	last, err := logs.LastIndex()
	if err != nil {
		return raft.Configuration{}, err
	}
	for i := last; i >= first && i > 0; i-- {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			return raft.Configuration{}, fmt.Errorf("read raft log entry %d: %w", i, err)
		}
		if l.Type == raft.LogConfiguration {
			return raft.DecodeConfiguration(l.Data), nil
		}
	}
	metas, err := snaps.List()
	if err != nil || len(metas) == 0 {
		return raft.Configuration{}, err
	}
	return metas[0].Configuration, nil
}
