package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

func TestApplyMovesCheckpointWithTheChange(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	err := db.Apply(ctx, readmodel.ProjectionUsers, 0, 5, func(tx *readmodel.Tx) error {
		return tx.InsertUser(user("u1", "ana", "Ana"))
	})
	if err != nil {
		t.Fatalf("Apply(0→5): %v", err)
	}
	if got := db.Checkpoint(readmodel.ProjectionUsers); got != 5 {
		t.Errorf("Checkpoint(users) = %d, want 5", got)
	}
	if got := queryInt(t, rawDB(t, path), "SELECT position FROM checkpoints WHERE projection = 'users'"); got != 5 {
		t.Errorf("stored checkpoint of users = %d, want 5", got)
	}
	if got := db.Position(); got != 0 {
		t.Errorf("Position() = %d, want 0 while agenda is at 0", got)
	}
}

func TestApplyFromAnotherCheckpointChangesNothing(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	if err := db.Apply(ctx, readmodel.ProjectionUsers, 0, 5, func(tx *readmodel.Tx) error {
		return tx.InsertUser(user("u1", "ana", "Ana"))
	}); err != nil {
		t.Fatalf("Apply(0→5): %v", err)
	}

	tests := []struct {
		name       string
		projection string
		from, to   int64
	}{
		{name: "replaying an applied batch", projection: readmodel.ProjectionUsers, from: 0, to: 5},
		{name: "batch starting behind the checkpoint", projection: readmodel.ProjectionUsers, from: 3, to: 9},
		{name: "batch starting ahead of the checkpoint", projection: readmodel.ProjectionUsers, from: 7, to: 9},
		{name: "projection without a stored checkpoint", projection: readmodel.ProjectionPlanning, from: 2, to: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Checkpoint(tc.projection)
			called := false
			err := db.Apply(ctx, tc.projection, tc.from, tc.to, func(tx *readmodel.Tx) error {
				called = true
				return tx.InsertUser(user("u2", "bob", "Bob"))
			})
			if !errors.Is(err, readmodel.ErrCheckpointMoved) {
				t.Fatalf("Apply(%d→%d) error = %v, want ErrCheckpointMoved", tc.from, tc.to, err)
			}
			if called {
				t.Error("the change ran although the checkpoint did not match")
			}
			if got := db.Checkpoint(tc.projection); got != before {
				t.Errorf("Checkpoint(%s) = %d, want %d", tc.projection, got, before)
			}
			raw := rawDB(t, path)
			if n := queryInt(t, raw, "SELECT COUNT(*) FROM users"); n != 1 {
				t.Errorf("users holds %d rows, want 1", n)
			}
			// A projection that never applied anything has no stored row.
			if n := queryInt(t, raw, "SELECT COALESCE(MAX(position), 0) FROM checkpoints WHERE projection = ?", tc.projection); n != before {
				t.Errorf("stored checkpoint of %s = %d, want %d", tc.projection, n, before)
			}
		})
	}
}

func TestApplyRollsBackAFailedChange(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	boom := errors.New("boom")
	err := db.Apply(ctx, readmodel.ProjectionUsers, 0, 3, func(tx *readmodel.Tx) error {
		if err := tx.InsertUser(user("u1", "ana", "Ana")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Apply error = %v, want the change's error", err)
	}
	if got := db.Checkpoint(readmodel.ProjectionUsers); got != 0 {
		t.Errorf("Checkpoint(users) = %d, want 0", got)
	}
	if n := queryInt(t, rawDB(t, path), "SELECT COUNT(*) FROM users"); n != 0 {
		t.Errorf("users holds %d rows after a failed apply, want 0", n)
	}
	// A change that must touch one row and touches none fails too.
	err = db.Apply(ctx, readmodel.ProjectionUsers, 0, 1, func(tx *readmodel.Tx) error {
		return tx.UpdateUserProfile("nobody", "X", "", at, 2, "node-a")
	})
	if err == nil {
		t.Error("updating a user that does not exist succeeded, want an error")
	}
}

func TestOpenDiscardsReadModelOfAnotherSchemaVersion(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		userVersion int // 0: leave the file's version alone
		wantKept    bool
	}{
		{name: "same schema version keeps the data", userVersion: 0, wantKept: true},
		{name: "newer schema version is discarded", userVersion: readmodel.SchemaVersion + 1, wantKept: false},
		{name: "older schema version is discarded", userVersion: readmodel.SchemaVersion - 1, wantKept: false},
		{name: "unknown schema version is discarded", userVersion: 99, wantKept: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := mustOpenDB(t)
			mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
				return tx.InsertUser(user("u1", "ana", "Ana"))
			})
			book(t, db, booking{id: "a1", owner: "u1", start: at, end: at.Add(1e9)})
			if err := db.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if tc.userVersion != 0 {
				raw := rawDB(t, path)
				if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", tc.userVersion)); err != nil {
					t.Fatalf("set user_version: %v", err)
				}
				raw.Close()
			}

			db2, err := readmodel.Open(ctx, path)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer db2.Close()
			_, err = db2.UserByID(ctx, "u1")
			if kept := err == nil; kept != tc.wantKept {
				t.Errorf("user kept = %v (err %v), want %v", kept, err, tc.wantKept)
			}
			if !tc.wantKept && agenda.ErrorCode(err) != agenda.ENOTFOUND {
				t.Errorf("UserByID in a discarded read model: %v, want not_found", err)
			}
			var wantCheckpoint int64 // a discarded read model starts over
			if tc.wantKept {
				wantCheckpoint = 1
			}
			for _, p := range readmodel.Projections {
				if got := db2.Checkpoint(p); got != wantCheckpoint {
					t.Errorf("Checkpoint(%s) = %d, want %d", p, got, wantCheckpoint)
				}
			}
			if got := queryInt(t, rawDB(t, path), "PRAGMA user_version"); got != readmodel.SchemaVersion {
				t.Errorf("user_version after Open = %d, want %d", got, readmodel.SchemaVersion)
			}
		})
	}
}

func TestResetClearsOnlyItsProjection(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.InsertUser(user("u1", "ana", "Ana"))
	})
	book(t, db, booking{id: "a1", owner: "u1", start: at, end: at.Add(1e9)})
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		return tx.SetAgendaVersion("u1", 1, "node-a")
	})

	if err := db.Reset(ctx, readmodel.ProjectionPlanning); err != nil {
		t.Fatalf("Reset(planning): %v", err)
	}
	raw := rawDB(t, path)
	for table, want := range map[string]int64{"appointments": 0, "agenda_entries": 0, "agenda_streams": 0, "users": 1} {
		if n := queryInt(t, raw, "SELECT COUNT(*) FROM "+table); n != want {
			t.Errorf("%s holds %d rows after Reset(planning), want %d", table, n, want)
		}
	}
	if got := db.Checkpoint(readmodel.ProjectionPlanning); got != 0 {
		t.Errorf("Checkpoint(planning) = %d, want 0", got)
	}
	if got := db.Checkpoint(readmodel.ProjectionUsers); got != 1 {
		t.Errorf("Checkpoint(users) = %d, want 1", got)
	}
	if err := db.Reset(ctx, "calendars"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Errorf("Reset(calendars) = %v, want not_found", err)
	}
}

// Scratch files a crashed rebuild left beside the read model are deleted
// when it is opened.
func TestOpenRemovesLeftoverScratch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "readmodel.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.WriteFile(readmodel.ScratchPath(path, readmodel.ProjectionPlanning)+suffix, []byte("half-built"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := readmodel.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	left, _ := filepath.Glob(path + ".rebuild-*")
	if len(left) != 0 {
		t.Errorf("leftover scratch files after Open: %v", left)
	}
}

// A read model holding another schema version of one projection rebuilds
// only that one at Open: its tables are recreated empty and its checkpoint
// reset (the projector then replays it), while the other projections keep
// their rows and positions; Inspect reports it outdated meanwhile.
func TestOpenRebuildsOnlyTheProjectionOfAnotherVersion(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.InsertUser(user("u1", "ana", "Ana"))
	})
	book(t, db, booking{id: "a1", owner: "u1", start: at, end: at.Add(1e9)})
	planningAt := db.Checkpoint(readmodel.ProjectionPlanning)
	db.Close()

	for _, tc := range []struct{ name, stmt string }{
		{"older version", "UPDATE projection_schemas SET version = version - 1 WHERE projection = 'users'"},
		{"no version recorded", "DELETE FROM projection_schemas WHERE projection = 'users'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := rawDB(t, path)
			if _, err := raw.Exec(tc.stmt); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			st, err := readmodel.Inspect(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			if !st.Outdated[readmodel.ProjectionUsers] || st.Outdated[readmodel.ProjectionPlanning] {
				t.Errorf("Inspect: outdated %v, want users only", st.Outdated)
			}
			db, err := readmodel.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := db.ProjectionsReset(); len(got) != 1 || got[0] != readmodel.ProjectionUsers {
				t.Errorf("ProjectionsReset() = %v, want [users]", got)
			}
			if got := db.Checkpoint(readmodel.ProjectionUsers); got != 0 {
				t.Errorf("Checkpoint(users) = %d, want 0", got)
			}
			if got := db.Checkpoint(readmodel.ProjectionPlanning); got != planningAt {
				t.Errorf("Checkpoint(planning) = %d, want %d", got, planningAt)
			}
			raw = rawDB(t, path)
			for table, want := range map[string]int64{"users": 0, "appointments": 1} {
				if n := queryInt(t, raw, "SELECT COUNT(*) FROM "+table); n != want {
					t.Errorf("%s holds %d rows, want %d", table, n, want)
				}
			}
			if n := queryInt(t, raw, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'users_by_display_fold'"); n != 1 {
				t.Errorf("the users table was recreated without its index")
			}
			// Put the user back for the next case.
			mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
				return tx.InsertUser(user("u1", "ana", "Ana"))
			})
		})
	}
}

// Skip moves a checkpoint over positions that hold nothing for the
// projection without writing it, until the projection next writes or the
// stored checkpoint would lag too far; a reopened read model resumes from
// the stored one.
func TestSkipMovesTheCheckpointInMemory(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	reopened := func() int64 {
		t.Helper()
		db2, err := readmodel.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db2.Close()
		return db2.Checkpoint(readmodel.ProjectionUsers)
	}
	if err := db.Skip(ctx, readmodel.ProjectionUsers, 0, 10); err != nil {
		t.Fatal(err)
	}
	if got := db.Checkpoint(readmodel.ProjectionUsers); got != 10 {
		t.Fatalf("checkpoint after Skip = %d, want 10", got)
	}
	if err := db.Skip(ctx, readmodel.ProjectionUsers, 5, 20); !errors.Is(err, readmodel.ErrCheckpointMoved) {
		t.Fatalf("Skip from a position that is not the checkpoint: %v, want ErrCheckpointMoved", err)
	}
	if got := reopened(); got != 0 {
		t.Fatalf("stored checkpoint after Skip = %d, want 0 (kept in memory)", got)
	}
	if err := db.Apply(ctx, readmodel.ProjectionUsers, 10, 11, func(*readmodel.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := reopened(); got != 11 {
		t.Fatalf("stored checkpoint after Apply = %d, want 11", got)
	}
	// Far enough ahead, Skip writes.
	if err := db.Skip(ctx, readmodel.ProjectionUsers, 11, 100_000); err != nil {
		t.Fatal(err)
	}
	if got := reopened(); got != 100_000 {
		t.Fatalf("stored checkpoint after a long Skip = %d, want 100000", got)
	}
	if err := db.Reset(ctx, readmodel.ProjectionUsers); err != nil {
		t.Fatal(err)
	}
	if err := db.Skip(ctx, readmodel.ProjectionUsers, 0, 100); err != nil {
		t.Fatalf("Skip after a reset: %v", err)
	}
	if got := reopened(); got != 0 {
		t.Fatalf("stored checkpoint after a reset and a Skip = %d, want 0", got)
	}
	// Closing stores it.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if got := reopened(); got != 100 {
		t.Fatalf("stored checkpoint after Close = %d, want 100", got)
	}
}

// A Skip that carries the planning checkpoint across a feed floor leaves the
// pruning to the next transaction, which must still prune what the floor
// left behind: pruning is judged from the checkpoint the file holds, not the
// one Skip moved in memory. Close, which stores a skipped checkpoint, prunes
// the same way.
func TestFeedPrunedAcrossASkip(t *testing.T) {
	ctx := context.Background()
	write := func(db *readmodel.DB, from, to int64) {
		t.Helper()
		err := db.Apply(ctx, readmodel.ProjectionPlanning, from, to, func(tx *readmodel.Tx) error {
			return tx.WriteFeed([]readmodel.FeedRecord{{UserID: "u1", Position: to, EventType: "test.event",
				Stream: "s", Version: to, At: time.Unix(0, 0), Data: []byte(`{}`)}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// check fails if a feed entry of u1 lies at or below the floor of
	// checkpoint at, or if feed_pruned does not remember position 4.
	check := func(db *readmodel.DB, at int64) {
		t.Helper()
		entries, err := db.Feed(ctx, "u1", 0, at, 100, agenda.MaxFeedPageBytes)
		if err != nil {
			t.Fatal(err)
		}
		floor := db.FeedFloor(at)
		for _, e := range entries {
			if e.Position <= floor {
				t.Errorf("feed entry at %d survived the floor %d of checkpoint %d", e.Position, floor, at)
			}
		}
		if pruned, err := db.FeedPruned(ctx, "u1"); err != nil || pruned != 4 {
			t.Errorf("feed_pruned of u1 = %d, %v; want 4", pruned, err)
		}
	}
	setUp := func() (*readmodel.DB, string) {
		db, path := mustOpenDB(t)
		db.SetFeedRetention(8) // FeedFloor(p): p-8 rounded down to even
		for p := int64(1); p <= 4; p++ {
			write(db, p-1, p)
		}
		// Positions 5–30 hold nothing of the planning projection's.
		if err := db.Skip(ctx, readmodel.ProjectionPlanning, 4, 30); err != nil {
			t.Fatal(err)
		}
		return db, path
	}

	// The next transaction moves the floor no further than the skipped
	// checkpoint's (FeedFloor(31) = FeedFloor(30) = 22), yet past the
	// stored one's (FeedFloor(4) = 0).
	db, _ := setUp()
	write(db, 30, 31)
	check(db, 31)

	db, path := setUp()
	reopened := reopen(t, db, path)
	reopened.SetFeedRetention(8)
	check(reopened, 30)
}

// A scratch read model flushed in the background while it is written (as an
// offline rebuild does) installs whole, and stopping the flusher twice is
// harmless: RebuildOffline stops it before InstallAt and again on return.
func TestScratchFlushedWhileWrittenInstallsWhole(t *testing.T) {
	ctx := context.Background()
	path := closedReadModel(t)
	scratch, err := readmodel.OpenScratch(ctx, readmodel.ScratchPath(path, "offline"))
	if err != nil {
		t.Fatal(err)
	}
	stop := scratch.FlushInBackground(time.Millisecond)
	for i := range 200 {
		mustApply(t, scratch, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
			return tx.InsertUser(user(fmt.Sprintf("u%03d", i), fmt.Sprintf("user%03d", i), "User"))
		})
	}
	for range 2 {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	if err := scratch.CreateDeferredIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := scratch.InstallAt(path); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, rawDB(t, path), "SELECT COUNT(*) FROM users"); n != 200 {
		t.Errorf("installed read model holds %d users, want 200", n)
	}
}

// The installed read model keeps the owner of the file it replaces: an
// offline rebuild run as root over a node that runs as another user once
// left it a file the node could not open (a review). Needs root to give a
// file away; skipped otherwise.
func TestInstallKeepsTheOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a file owned by another user")
	}
	ctx := context.Background()
	path := closedReadModel(t)
	const nobody = 65534
	if err := os.Chown(path, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	scratch, err := readmodel.OpenScratch(ctx, readmodel.ScratchPath(path, "offline"))
	if err != nil {
		t.Fatal(err)
	}
	if err := scratch.CreateDeferredIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	if err := scratch.InstallAt(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
		t.Errorf("installed read model owned by %d:%d, want %d:%d", st.Uid, st.Gid, nobody, nobody)
	}
}

// closedReadModel creates a read model in a temp dir, as a stopped node
// leaves it, and returns its path.
func closedReadModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "readmodel.db")
	live, err := readmodel.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	live.Close()
	return path
}

// Horizon covers whatever a read has shown, where Position, the lowest
// checkpoint, lags a projection that is ahead: a user read at the users
// projection's 50 with the planning projection at 40 must not be vouched
// for with 40 (a node at 45 would call the user unknown), and it is
// vouched for again after a restart.
func TestHorizonCoversAProjectionAheadOfTheOthers(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	if err := db.Apply(ctx, readmodel.ProjectionPlanning, 0, 40, func(*readmodel.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.Apply(ctx, readmodel.ProjectionUsers, 0, 50, func(tx *readmodel.Tx) error {
		return tx.InsertUser(user("u1", "ana", "Ana"))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TokenState(ctx, "u1", "t1"); err != nil {
		t.Fatalf("TokenState = %v, want the user", err)
	}
	if p, h := db.Position(), db.Horizon(); p != 40 || h != 50 {
		t.Fatalf("Position, Horizon = %d, %d; want 40, 50", p, h)
	}
	if err := db.Skip(ctx, readmodel.ProjectionPlanning, 40, 60); err != nil {
		t.Fatal(err)
	}
	if p, h := db.Position(), db.Horizon(); p != 50 || h != 60 {
		t.Fatalf("after a skip: Position, Horizon = %d, %d; want 50, 60", p, h)
	}
	again := reopen(t, db, path)
	if h := again.Horizon(); h != 60 {
		t.Fatalf("after a restart: Horizon = %d, want 60", h)
	}
	// A transaction that fails leaves the horizon where it was: raised,
	// it would name a position this node may never reach.
	err := again.Apply(ctx, readmodel.ProjectionUsers, 50, 70, func(*readmodel.Tx) error { return errors.New("disk on fire") })
	if err == nil {
		t.Fatal("Apply: no error")
	}
	if h := again.Horizon(); h != 60 {
		t.Fatalf("after a failed apply: Horizon = %d, want 60", h)
	}
}
