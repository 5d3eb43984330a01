package consensus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

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
func Recover(dir, nodeID string, servers []Server, store *eventstore.Store, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	if len(servers) == 0 {
		return errors.New("consensus: recover with no servers")
	}
	self := false
	conf := raft.Configuration{}
	for _, s := range servers {
		self = self || s.ID == nodeID
		conf.Servers = append(conf.Servers, raft.Server{ID: raft.ServerID(s.ID), Address: raft.ServerAddress(s.Address), Suffrage: raft.Voter})
	}
	if !self {
		return fmt.Errorf("consensus: recover: this node (%s) is not among the servers", nodeID)
	}
	if !hasLog(dir) {
		return fmt.Errorf("consensus: recover: no Raft log in %s", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, voteGateFile)); err == nil {
		return ErrVoteGated
	}
	// The caller holds the data dir's lock, which a running node holds.
	logStore, err := openLogStore(dir)
	if err != nil {
		return fmt.Errorf("open raft log: %w", err)
	}
	defer logStore.Close()
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		return fmt.Errorf("open snapshot store: %w", err)
	}
	if err := catchUpFromSnapshot(snaps, store, logger); err != nil {
		return err
	}
	// Built as Open builds it, so that it applies the log with the same
	// checks.
	f := &fsm{store: store, logger: logger, logs: logStore}
	if applied, term, err := store.Applied(context.Background()); err == nil {
		f.advance(applied)
		f.term.Store(term)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(nodeID)
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Error, Output: os.Stderr})
	_, trans := raft.NewInmemTransport(raft.ServerAddress(servers[0].Address))
	if err := raft.RecoverCluster(rc, f, logStore, logStore, snaps, trans, conf); err != nil {
		return fmt.Errorf("recover cluster: %w", err)
	}
	return nil
}
