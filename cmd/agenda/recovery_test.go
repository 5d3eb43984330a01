package main

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEventStoreRebuiltFromSnapshotAndLog removes a stopped node's event
// store and read model: on restart the node restores the latest Raft
// snapshot, replays the log after it, rebuilds the read model from the
// event store, and serves everything it had acknowledged.
func TestEventStoreRebuiltFromSnapshotAndLog(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	n := startNode(t, cfg)
	ana := registerUser(t, n, "ana")
	start := time.Date(2027, 3, 1, 8, 0, 0, 0, time.UTC)
	var ids []string
	create := func(i int) {
		t.Helper()
		var a struct {
			ID string `json:"id"`
		}
		ana.do("POST", "/api/appointments", appointmentBody("before", start.Add(time.Duration(i)*time.Hour), 30*time.Minute)).
			expect(t, http.StatusCreated).JSON(t, &a)
		ids = append(ids, a.ID)
	}
	for i := 0; i < 10; i++ {
		create(i)
	}
	if err := n.raft.Snapshot(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	for i := 10; i < 15; i++ {
		create(i) // in the log after the snapshot
	}
	headBefore := n.store.Head()
	if err := n.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for _, f := range []string{"events.db", "events.db-wal", "events.db-shm", "readmodel.db", "readmodel.db-wal", "readmodel.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}

	n2 := startNode(t, cfg)
	if got := n2.store.Head(); got != headBefore {
		t.Fatalf("event store head after recovery = %d, want %d", got, headBefore)
	}
	ana.base = "http://" + n2.HTTPAddr()
	for _, id := range ids {
		ana.do("GET", "/api/appointments/"+id, nil).expect(t, http.StatusOK)
	}
	ana.do("POST", "/api/appointments", appointmentBody("after", start.Add(100*time.Hour), time.Hour)).expect(t, http.StatusCreated)
}
