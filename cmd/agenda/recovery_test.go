package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEventStoreRebuiltFromSnapshotAndLog takes a stopped node's event
// store and read model away: on restart the node restores the latest Raft
// snapshot, replays the log after it, rebuilds the read model from the
// event store, and serves everything it had acknowledged. Taken away as a
// lost disk would (the files removed), or as a crash of the machine would
// leave stores written without fsync (sqlite.Unsynced): files whose header
// is garbage, each beside the marker of another boot.
func TestEventStoreRebuiltFromSnapshotAndLog(t *testing.T) {
	t.Run("files removed", func(t *testing.T) {
		testStoresRebuilt(t, func(t *testing.T, dir string) {
			for _, f := range []string{"events.db", "events.db-wal", "events.db-shm", "readmodel.db", "readmodel.db-wal", "readmodel.db-shm"} {
				if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}, nil)
	})
	t.Run("the machine stopped under stores written unsynced", func(t *testing.T) {
		needBootID(t)
		testStoresRebuilt(t, func(t *testing.T, dir string) {
			crashMachineUnder(t, filepath.Join(dir, "events.db"))
			crashMachineUnder(t, filepath.Join(dir, "readmodel.db"))
		}, func(t *testing.T, dir string) {
			// The discarded store is kept aside for an operator.
			b, err := os.ReadFile(filepath.Join(dir, "events.db.discarded"))
			if err != nil || !strings.HasPrefix(string(b), "torn page") {
				t.Errorf("the discarded event store was not kept aside as it was (%v)", err)
			}
		})
	})
}

// testStoresRebuilt runs TestEventStoreRebuiltFromSnapshotAndLog with lose
// taking the stores of the stopped node in dir away.
// kept, if not nil, then checks what the data dir holds.
func testStoresRebuilt(t *testing.T, lose, kept func(t *testing.T, dir string)) {
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
	lose(t, dir)

	n2 := startNode(t, cfg)
	if !n2.rebuilding.Load() {
		t.Error("the node serves the API while it rebuilds its stores (not fenced)")
	}
	if got := n2.store.Head(); got != headBefore {
		t.Fatalf("event store head after recovery = %d, want %d", got, headBefore)
	}
	ana.base = "http://" + n2.HTTPAddr()
	for _, id := range ids {
		ana.do("GET", "/api/appointments/"+id, nil).expect(t, http.StatusOK)
	}
	ana.do("POST", "/api/appointments", appointmentBody("after", start.Add(100*time.Hour), time.Hour)).expect(t, http.StatusCreated)
	if kept != nil {
		kept(t, dir)
	}
}
