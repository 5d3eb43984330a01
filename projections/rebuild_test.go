package projections_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// An online rebuild under a steady write load: reads never fail and never
// miss data while it runs, a second rebuild is refused, and once it has
// switched the read model is identical, table by table, to one projected
// from scratch.
func TestOnlineRebuildUnderWriteLoad(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	p := startProjector(t, store, rm)
	l := newEventLog(t, store)
	head := scenario(l, 2000)
	waitProjected(t, rm, head)
	var rebuilt []projections.RebuildProgress
	var hookMu sync.Mutex
	p.OnRebuild = func(pr projections.RebuildProgress) {
		hookMu.Lock()
		rebuilt = append(rebuilt, pr)
		hookMu.Unlock()
	}

	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	// The newest appointment: the scenario deletes the oldest ones, so it
	// outlives the test's writes.
	const newest = "a01999"
	watched := ""
	for i := 0; i < 1000 && watched == ""; i++ {
		u := fmt.Sprintf("u%04d", i)
		if _, err := rm.Appointment(ctx, newest, u); err == nil {
			watched = u
		}
	}
	if watched == "" {
		t.Fatalf("nobody sees %s", newest)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes, reads atomic.Int64
	wg.Add(2)
	go func() { // the write load: a few events every couple of milliseconds
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			scenario(l, 2)
			writes.Add(1)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	readErr := make(chan error, 1)
	go func() { // readers: data projected before the rebuild never goes missing
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			u, err := rm.UserByID(ctx, "u0001")
			if err == nil && u.ID != "u0001" {
				err = fmt.Errorf("user u0001 read back as %q", u.ID)
			}
			if err == nil {
				_, err = rm.Appointment(ctx, newest, watched)
				if err == nil {
					var n []agenda.Entry
					n, err = rm.Agenda(ctx, watched, from, to)
					if err == nil && len(n) == 0 {
						err = fmt.Errorf("agenda of %s read back empty", watched)
					}
				}
			}
			if err != nil {
				select {
				case readErr <- err:
				default:
				}
				return
			}
			reads.Add(1)
		}
	}()

	started, err := p.StartRebuild(readmodel.ProjectionPlanning)
	if err != nil {
		t.Fatalf("StartRebuild: %v", err)
	}
	if _, err := p.StartRebuild(readmodel.ProjectionUsers); agenda.ErrorCode(err) != agenda.ECONFLICT {
		t.Errorf("second StartRebuild while one runs: %v, want conflict", err)
	}
	sawProgress := false
	waitUntil(t, 2*time.Minute, "the rebuild finishes", func() bool {
		for _, s := range p.Status() {
			if s.Name == readmodel.ProjectionPlanning {
				if s.Rebuild != nil && s.State == "rebuilding" {
					sawProgress = true
				}
				return s.LastRebuild != nil
			}
		}
		return false
	})
	// Keep writing a little after the switch: the live projection goes on.
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	select {
	case err := <-readErr:
		t.Fatalf("a read failed during the rebuild: %v", err)
	default:
	}
	if !sawProgress {
		t.Error("status never showed the rebuild in progress")
	}
	var last *projections.RebuildProgress
	for _, s := range p.Status() {
		if s.Name == readmodel.ProjectionPlanning {
			last = s.LastRebuild
		}
	}
	if last.State != "done" || last.Error != "" || last.Position < head {
		t.Fatalf("last rebuild = %+v, want done past %d", last, head)
	}
	// One start time: the one the request was answered with (a review saw
	// the status give another).
	if !last.StartedAt.Equal(started.StartedAt) {
		t.Errorf("the rebuild started at %v, says its status, but at %v, said its answer", last.StartedAt, started.StartedAt)
	}
	hookMu.Lock()
	if len(rebuilt) != 1 || rebuilt[0].State != "done" {
		t.Errorf("OnRebuild saw %+v, want one done rebuild", rebuilt)
	}
	hookMu.Unlock()
	if _, err := os.Stat(readmodel.ScratchPath(path, readmodel.ProjectionPlanning)); !os.IsNotExist(err) {
		t.Errorf("scratch file left behind: %v", err)
	}
	t.Logf("%d write rounds and %d reads during the rebuild", writes.Load(), reads.Load())

	final := store.Head()
	waitProjected(t, rm, final)
	refPath := filepath.Join(t.TempDir(), "reference.db")
	ref := mustOpenReadModel(t, refPath)
	startProjector(t, store, ref)
	waitProjected(t, ref, final)
	storeCheckpoints(t, rm, ref)
	diffDumps(t, dump(t, path), dump(t, refPath))
}

// RebuildInto with no live projector (what `agenda projections rebuild`
// does on a stopped node) gives the same tables as the original projection,
// and a rebuild of an unknown projection changes nothing.
func TestRebuildIntoGivesIdenticalTables(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	p := startProjector(t, store, rm)
	head := scenario(newEventLog(t, store), 1500)
	waitProjected(t, rm, head)
	p.stop(t)
	storeCheckpoints(t, rm)
	want := dump(t, path)
	digest, err := rm.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, proj := range projections.All() {
		var calls int
		pr, err := projections.RebuildInto(ctx, store, rm, proj, func(projections.RebuildProgress) { calls++ })
		if err != nil {
			t.Fatalf("RebuildInto(%s): %v", proj.Name(), err)
		}
		if pr.State != "done" || pr.Position != head || calls < 2 {
			t.Errorf("RebuildInto(%s) = %+v after %d progress calls, want done at %d", proj.Name(), pr, calls, head)
		}
	}
	diffDumps(t, dump(t, path), want)
	again, err := rm.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for table, d := range digest {
		if again[table] != d {
			t.Errorf("digest of %s changed: %s → %s", table, d, again[table])
		}
	}
}

// RebuildOffline (what `agenda projections rebuild` runs on a stopped node)
// replaces the read model file by one built anew, identical table by table,
// whether it rebuilds every projection or carries some over; it leaves no
// scratch file behind, and an unknown projection changes nothing.
func TestRebuildOfflineGivesIdenticalTables(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	p := startProjector(t, store, rm)
	head := scenario(newEventLog(t, store), 1500)
	waitProjected(t, rm, head)
	p.stop(t)
	digest, err := rm.Digest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rm.Close()
	want := dump(t, path)
	wantSchema := schemaOf(t, path)
	cases := []struct {
		name  string
		projs []projections.Projection
	}{
		{"all", projections.All()},
		{"one, the other carried over", projections.All()[:1]},
		{"the other", projections.All()[1:]},
	}
	for _, c := range cases {
		var calls int
		prs, err := projections.RebuildOffline(ctx, store, path, c.projs, func(projections.RebuildProgress) { calls++ })
		if err != nil {
			t.Fatalf("%s: RebuildOffline: %v", c.name, err)
		}
		if len(prs) != len(c.projs) || calls < 2 {
			t.Fatalf("%s: RebuildOffline = %+v after %d progress calls", c.name, prs, calls)
		}
		for _, pr := range prs {
			if pr.State != "done" || pr.Position != head {
				t.Errorf("%s: %+v, want done at %d", c.name, pr, head)
			}
		}
		diffDumps(t, dump(t, path), want)
		if got := schemaOf(t, path); got != wantSchema {
			t.Errorf("%s: schema after the rebuild:\n%s\nwant:\n%s", c.name, got, wantSchema)
		}
		again := mustOpenReadModel(t, path)
		got, err := again.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		again.Close()
		for table, d := range digest {
			if got[table] != d {
				t.Errorf("%s: digest of %s changed: %s → %s", c.name, table, d, got[table])
			}
		}
		matches, _ := filepath.Glob(path + ".rebuild-*")
		if len(matches) > 0 {
			t.Errorf("%s: scratch files left behind: %v", c.name, matches)
		}
	}
	if _, err := projections.RebuildOffline(ctx, store, path, []projections.Projection{bogusProjection{}}, nil); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Errorf("RebuildOffline of an unknown projection: %v, want not found", err)
	}
	diffDumps(t, dump(t, path), want)
	// A projection that fails half way leaves the old file as it was.
	failing := &failingProjection{Projection: projections.UsersProjection{}, after: 10}
	if _, err := projections.RebuildOffline(ctx, store, path, []projections.Projection{projections.PlanningProjection{}, failing}, nil); err == nil {
		t.Error("RebuildOffline with a failing projection succeeded")
	}
	diffDumps(t, dump(t, path), want)
	if matches, _ := filepath.Glob(path + ".rebuild-*"); len(matches) > 0 {
		t.Errorf("scratch files left behind after a failure: %v", matches)
	}
}

// failingProjection fails on the event after its first `after` ones.
type failingProjection struct {
	projections.Projection
	after, seen int
}

func (f *failingProjection) Handle(tx *readmodel.Tx, env *events.Envelope, ev events.Event) error {
	if f.seen++; f.seen > f.after {
		return fmt.Errorf("failing on purpose at %d", env.Position)
	}
	return f.Projection.Handle(tx, env, ev)
}

// bogusProjection is a projection the read model has no tables for.
type bogusProjection struct{}

func (bogusProjection) Name() string         { return "bogus" }
func (bogusProjection) EventTypes() []string { return []string{"user.registered"} }
func (bogusProjection) Handle(*readmodel.Tx, *events.Envelope, events.Event) error {
	return nil
}

// schemaOf lists the tables and indexes of the database at path.
func schemaOf(t *testing.T, path string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var typ, name, tbl string
		var stmt sql.NullString
		if err := rows.Scan(&typ, &name, &tbl, &stmt); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", typ, name, tbl, stmt.String)
	}
	return b.String()
}
