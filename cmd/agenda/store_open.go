package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/agendahq/agenda/consensus"
	"github.com/agendahq/agenda/eventstore"
)

// openEventStore opens the event store in the data dir dir, as a node or an
// offline command that may apply entries to it (cluster recover) does.
//
// The store is written without fsync (eventstore.Open). After a crash of the
// machine it may be damaged, and it is discarded (discarded true) if the
// Raft directory holds its whole history (consensus.HoldsHistory), which
// consensus then applies to the empty store again; it is kept aside as
// events.db.discarded. A store that may hold history no Raft entry does
// (see HoldsHistory: just restored, beside a lost or empty log, a closed
// vote gate, a halt) is opened synced instead, and if it was written
// unsynced when the machine stopped, the error says to restore a backup. A
// missing store beside a Raft log that holds a history is rebuilt too
// (lost true); a new one holds nothing to lose.
func openEventStore(ctx context.Context, dir string, logger *slog.Logger) (store *eventstore.Store, discarded, lost bool, err error) {
	path := filepath.Join(dir, "events.db")
	raftDir := filepath.Join(dir, "raft")
	_, statErr := os.Stat(path)
	holds, why, err := consensus.HoldsHistory(raftDir)
	if err != nil {
		return nil, false, false, fmt.Errorf("read the Raft log in %s: %w", raftDir, err)
	}
	switch {
	case errors.Is(statErr, os.ErrNotExist) && holds:
		logger.Warn("no event store: it is rebuilt from the Raft snapshot and log", "path", path)
		lost = true
	case statErr == nil && !holds:
		store, err := eventstore.Open(ctx, path, eventstore.Synced())
		if errors.Is(err, eventstore.ErrUnsyncedAtCrash) {
			err = fmt.Errorf("%w, and it may hold history the Raft directory %s does not (%s), so it is not discarded: "+
				"if other nodes of its cluster hold that history, move the data dir aside and start the node empty, with seeds, to rejoin; "+
				"if not, restore the node from a backup (agenda restore)", err, raftDir, why)
		}
		return store, false, false, err
	}
	store, err = eventstore.Open(ctx, path)
	if !errors.Is(err, eventstore.ErrUnsyncedAtCrash) {
		return store, false, lost, err
	}
	if err := eventstore.Discard(path); err != nil {
		return nil, false, false, fmt.Errorf("discard the event store: %w", err)
	}
	logger.Warn("event store discarded: the machine stopped while it was written without fsync; it is rebuilt from the Raft snapshot and log", "path", path)
	store, err = eventstore.Open(ctx, path)
	return store, true, false, err
}
