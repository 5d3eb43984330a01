package eventstore

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// A store's lineage names the Raft log its applied index counts in. A
// cluster's Raft log numbers its entries from 1, and the store records the
// last one it applied, so that a node that lost its Raft directory but kept
// its store can join again and skip what it already holds. A restore from
// a backup founds a new cluster whose log numbers from 1 again: a store of
// the old cluster, with events that are a prefix of the restored history,
// would then skip the new cluster's first entries as applied. A fault
// review did exactly that (an old node's store, its raft directory gone,
// joined the restored cluster, was made a voter, served 60 appointments of
// 131 as ready, and later halted the cluster).
//
// So a restore draws a new lineage (PrepareRestore), snapshots carry it
// (snapshotHeader.Lineage), an empty store takes the lineage of the first
// snapshot it restores, and a store with history refuses a snapshot of
// another lineage (Restore), as the cluster refuses such a node when it
// joins (consensus.Node.CheckHistory). A snapshot of lineage 0 is let
// through to the event-by-event check, as an older build's would be: a
// restored cluster may have a member of an older build as its leader. A store never restored, nor of a
// restored cluster, has lineage 0; a store without the meta row (an older
// build's) reads as 0, which it is.
const selectLineage = "COALESCE((SELECT value FROM meta WHERE key = 'lineage'), 0)"

// ErrForeignLineage means a snapshot and a store count their Raft entries
// in different logs: one descends from a restore the other does not.
var ErrForeignLineage = errors.New("another lineage")

// upsertLineage records lineage ?1.
const upsertLineage = "INSERT INTO meta (key, value) VALUES ('lineage', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value"

// Lineage returns the store's lineage (0 unless it descends from a restore).
func (s *Store) Lineage(ctx context.Context) (int64, error) {
	var v int64
	if err := s.db.Read.QueryRowContext(ctx, "SELECT "+selectLineage).Scan(&v); err != nil {
		return 0, fmt.Errorf("read lineage: %w", err)
	}
	return v, nil
}

// newLineage draws a lineage: random, positive, never 0.
func newLineage() (int64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if v := int64(binary.LittleEndian.Uint64(b[:]) >> 1); v != 0 {
			return v, nil
		}
	}
}
