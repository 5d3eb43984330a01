package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agendahq/agenda/eventstore"
)

// openEventStore writes a store unsynced only where the Raft log can build
// it again, or where it holds nothing yet; otherwise it is the only copy of
// its history: synced, and never discarded.
func TestOpenEventStoreDiscardsOnlyWhatRaftHolds(t *testing.T) {
	needBootID(t)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	marked := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "events.db-unsynced"))
		return err == nil
	}

	t.Run("a new store is written unsynced", func(t *testing.T) {
		dir := t.TempDir()
		s, discarded, lost, err := openEventStore(ctx, dir, quiet)
		if err != nil || discarded || lost {
			t.Fatalf("openEventStore = %v, discarded %v, lost %v", err, discarded, lost)
		}
		defer s.Close()
		if !marked(dir) {
			t.Error("no marker beside a new store: it is not written unsynced")
		}
	})

	// A store without a Raft log beside it: one `agenda restore` wrote, or
	// one whose Raft directory was lost.
	alone := func(t *testing.T) string {
		dir := t.TempDir()
		s, err := eventstore.Open(ctx, filepath.Join(dir, "events.db"), eventstore.Synced())
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		return dir
	}
	t.Run("a store that holds history no Raft log does is synced", func(t *testing.T) {
		dir := alone(t)
		s, discarded, lost, err := openEventStore(ctx, dir, quiet)
		if err != nil || discarded || lost {
			t.Fatalf("openEventStore = %v, discarded %v, lost %v", err, discarded, lost)
		}
		defer s.Close()
		if marked(dir) {
			t.Error("a marker beside the only copy of a history: it is written unsynced")
		}
	})
	t.Run("and never discarded", func(t *testing.T) {
		dir := alone(t)
		if err := os.WriteFile(filepath.Join(dir, "events.db-unsynced"), []byte("a boot before this one"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, _, _, err := openEventStore(ctx, dir, quiet)
		if err == nil {
			s.Close()
			t.Fatal("opened a store the machine stopped under, with no Raft log to rebuild it from")
		}
		if !errors.Is(err, eventstore.ErrUnsyncedAtCrash) || !strings.Contains(err.Error(), "no Raft log") || !strings.Contains(err.Error(), "agenda restore") {
			t.Errorf("error = %v, want ErrUnsyncedAtCrash saying why it is kept, and to rejoin or restore a backup", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "events.db")); err != nil {
			t.Errorf("the store is gone: %v", err)
		}
	})
}
