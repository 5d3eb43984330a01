package eventstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// TestRestoreDrawsALineageSnapshotsCarry: a restore founds a new Raft log,
// so the restored store gets a lineage of its own; its snapshots carry it;
// an empty store takes it, and a store of another lineage with history
// refuses it, though its events are a prefix.
func TestRestoreDrawsALineageSnapshotsCarry(t *testing.T) {
	ctx := context.Background()
	old, path := mustOpenStoreFile(t)
	applyNewStreams(t, old, 5, 10)
	if l, err := old.Lineage(ctx); err != nil || l != 0 {
		t.Fatalf("a store never restored has lineage %d (%v), want 0", l, err)
	}
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.db")
	if _, err := eventstore.Backup(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	restoreBackup := func(name string) *eventstore.Store {
		p := filepath.Join(dir, name, "events.db")
		os.MkdirAll(filepath.Dir(p), 0o700)
		if _, err := eventstore.PrepareRestore(ctx, backup, p); err != nil {
			t.Fatal(err)
		}
		return mustOpenStoreAt(t, p)
	}
	r, r2 := restoreBackup("r"), restoreBackup("r2")
	lr, err := r.Lineage(ctx)
	if err != nil || lr == 0 {
		t.Fatalf("a restored store has lineage %d (%v), want a new one", lr, err)
	}
	if l2, _ := r2.Lineage(ctx); l2 == lr || l2 == 0 {
		t.Errorf("two restores of one backup have lineages %d and %d, want two new ones", lr, l2)
	}
	mustApply(t, r, 3, events.Batch{Expect: []events.Expectation{{Stream: "s-new"}}, Events: []events.Envelope{newEvent(t, "new", "s-new", 1)}})
	snap := mustSnapshot(t, r)

	fresh := mustOpenStore(t)
	mustRestore(t, fresh, snap)
	if l, _ := fresh.Lineage(ctx); l != lr {
		t.Errorf("an empty store restored from the snapshot has lineage %d, want the snapshot's %d", l, lr)
	}
	if err := restore(old, snap); !errors.Is(err, eventstore.ErrForeignLineage) {
		t.Errorf("the old store took a snapshot of the restored lineage: %v, want ErrForeignLineage", err)
	}
	// One restored twice from a backup is refused too.
	if err := restore(fresh, mustSnapshot(t, r2)); !errors.Is(err, eventstore.ErrForeignLineage) {
		t.Errorf("a store of one restore took a snapshot of another: %v, want ErrForeignLineage", err)
	}
}
