package projections_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the read-only dumps open the read model file directly

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// testLogger discards logs unless AGENDA_TEST_LOG is set: the projector logs
// from its own goroutines, which may outlive a test's t.Log.
func testLogger() *slog.Logger {
	if os.Getenv("AGENDA_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// mustOpenStore opens an event store in a temp dir, closed when the test ends.
func mustOpenStore(tb testing.TB) *eventstore.Store {
	tb.Helper()
	s, err := eventstore.Open(context.Background(), filepath.Join(tb.TempDir(), "events.db"))
	if err != nil {
		tb.Fatalf("open event store: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// mustOpenReadModel opens the read model at path, closed when the test ends
// (closing it earlier is fine).
func mustOpenReadModel(tb testing.TB, path string) *readmodel.DB {
	tb.Helper()
	rm, err := readmodel.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open read model %s: %v", path, err)
	}
	var once sync.Once
	tb.Cleanup(func() { once.Do(func() { rm.Close() }) })
	return rm
}

// runningProjector is a projector started in a goroutine.
type runningProjector struct {
	*projections.Projector
	stopOnce sync.Once
	done     chan error
}

// startProjector builds a projector over store into rm, runs it and waits
// until its handlers have started. It is stopped when the test ends.
func startProjector(tb testing.TB, store *eventstore.Store, rm *readmodel.DB) *runningProjector {
	tb.Helper()
	p, err := projections.New(store, rm, projections.All(), testLogger())
	if err != nil {
		tb.Fatalf("new projector: %v", err)
	}
	rp := &runningProjector{Projector: p, done: make(chan error, 1)}
	go func() { rp.done <- p.Run(context.Background()) }()
	select {
	case <-p.Running():
	case err := <-rp.done:
		tb.Fatalf("projector stopped before running: %v", err)
	case <-time.After(10 * time.Second):
		tb.Fatal("projector did not start within 10s")
	}
	tb.Cleanup(func() { rp.stop(tb) })
	return rp
}

// stop closes the projector and waits for Run to return.
func (rp *runningProjector) stop(tb testing.TB) {
	tb.Helper()
	rp.stopOnce.Do(func() {
		if err := rp.Close(); err != nil {
			tb.Errorf("close projector: %v", err)
		}
		select {
		case err := <-rp.done:
			if err != nil {
				tb.Errorf("projector Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			tb.Error("projector Run did not return within 15s of Close")
		}
	})
}

// waitProjected waits until every projection of rm has reached position.
func waitProjected(tb testing.TB, rm *readmodel.DB, position int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rm.WaitFor(ctx, position); err != nil {
		tb.Fatalf("read model did not reach position %d (at %d): %v", position, rm.Position(), err)
	}
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// write is one event for one stream.
type write struct {
	stream string
	ev     events.Event
}

// atSchema1 wraps an event to be written at schema version 1, as builds
// before its current version wrote it.
type atSchema1 struct{ events.Event }

// eventLog appends batches to a real event store the way the Raft state
// machine does, tracking stream versions the way commands do.
type eventLog struct {
	tb       testing.TB
	store    *eventstore.Store
	versions map[string]int64
	seq      int
	base     time.Time
	world    world
}

func newEventLog(tb testing.TB, store *eventstore.Store) *eventLog {
	return &eventLog{tb: tb, store: store, versions: map[string]int64{},
		base: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)}
}

// batch builds a batch of ws from node, expecting every written stream at
// the version the log last gave it. Event times are deterministic.
func (l *eventLog) batch(node string, ws ...write) events.Batch {
	l.tb.Helper()
	var b events.Batch
	next := map[string]int64{}
	for _, w := range ws {
		v, ok := next[w.stream]
		if !ok {
			v = l.versions[w.stream]
			b.Expect = append(b.Expect, events.Expectation{Stream: w.stream, Version: v})
		}
		v++
		next[w.stream] = v
		l.seq++
		ev, old := w.ev.(atSchema1)
		if old {
			w.ev = ev.Event
		}
		env, err := events.New(fmt.Sprintf("ev-%07d", l.seq), w.stream, v, w.ev, events.Meta{
			Time:          l.base.Add(time.Duration(l.seq) * time.Second),
			OriginNode:    node,
			Actor:         "test",
			CorrelationID: fmt.Sprintf("req-%d", l.seq),
		})
		if err != nil {
			l.tb.Fatalf("build event: %v", err)
		}
		if old {
			env.SchemaVersion = 1
		}
		b.Events = append(b.Events, env)
	}
	for s, v := range next {
		l.versions[s] = v
	}
	return b
}

// commit appends batches in one store transaction and returns the position
// of the last event.
func (l *eventLog) commit(bs ...events.Batch) int64 {
	l.tb.Helper()
	tx, err := l.store.Begin(context.Background())
	if err != nil {
		l.tb.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	var last int64
	for _, b := range bs {
		c, err := tx.Append(b)
		if err != nil {
			l.tb.Fatalf("append batch: %v", err)
		}
		last = c.LastPosition
	}
	if err := tx.Commit(); err != nil {
		l.tb.Fatalf("commit: %v", err)
	}
	return last
}

// append builds one batch and commits it.
func (l *eventLog) append(node string, ws ...write) int64 {
	l.tb.Helper()
	return l.commit(l.batch(node, ws...))
}

func registerUser(id, username, display string) []write {
	return []write{
		{events.UserStream(id), events.UserRegistered{UserID: id, Username: username, DisplayName: display,
			Email: username + "@example.com", PasswordHash: "$2a$04$hash-of-" + username}},
		{events.UsernameStream(username), events.UsernameClaimed{Username: username, UserID: id}},
	}
}

// createAppointment is an appointment owned by owner with extra
// participants (user ID → role), as a command would write it.
func createAppointment(id, owner string, start, end time.Time, others map[string]string) []write {
	return groupAppointment(id, "", owner, agenda.StatusConfirmed, start, end, sortedKeys(others), others)
}

func rescheduleAppointment(id, title string, start, end time.Time, users ...string) []write {
	ws := []write{{events.AppointmentStream(id), events.AppointmentUpdated{AppointmentID: id, Title: title,
		Description: "moved", Location: "Room 2", Start: start, End: end, Privacy: agenda.PrivacyFreeBusy}}}
	for _, u := range users {
		ws = append(ws, write{events.ScheduleStream(u), events.AgendaEntryRescheduled{UserID: u, AppointmentID: id,
			Start: start, End: end}})
	}
	return ws
}

func deleteAppointment(id string, users ...string) []write {
	ws := []write{{events.AppointmentStream(id), events.AppointmentDeleted{AppointmentID: id}}}
	for _, u := range users {
		ws = append(ws, write{events.ScheduleStream(u), events.AgendaEntryRemoved{UserID: u, AppointmentID: id}})
	}
	return ws
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// world is the state a scenario carries from one call to the next.
type world struct {
	round int
	users []string
	live  []scheduled
}

type scheduled struct {
	id    string
	users []string
}

// scenario appends a deterministic mix of n more rounds of user and
// appointment activity from three nodes: registrations, profile and password
// changes, appointments with participants, reschedules and deletions. It
// continues where the previous call left off and returns the head position.
func scenario(l *eventLog, rounds int) int64 {
	l.tb.Helper()
	nodes := []string{"node-a", "node-b", "node-c"}
	w := &l.world
	var head int64
	day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for end := w.round + rounds; w.round < end; w.round++ {
		i := w.round
		node := nodes[i%len(nodes)]
		var bs []events.Batch
		if i%4 == 0 || len(w.users) < 2 {
			id := fmt.Sprintf("u%04d", len(w.users))
			bs = append(bs, l.batch(node, registerUser(id, "user"+id, fmt.Sprintf("User %d", len(w.users)))...))
			w.users = append(w.users, id)
		}
		if i%7 == 3 {
			u := w.users[i%len(w.users)]
			bs = append(bs, l.batch(node, write{events.UserStream(u),
				events.UserProfileChanged{UserID: u, DisplayName: fmt.Sprintf("Renamed %d", i), Email: ""}}))
		}
		if i%11 == 5 {
			u := w.users[(i/2)%len(w.users)]
			bs = append(bs, l.batch(node, write{events.UserStream(u),
				events.UserPasswordChanged{UserID: u, PasswordHash: fmt.Sprintf("$2a$04$new-%d", i)}}))
		}
		owner := w.users[i%len(w.users)]
		other := w.users[(i+1)%len(w.users)]
		start := day.Add(time.Duration(i) * 90 * time.Minute)
		id := fmt.Sprintf("a%05d", i)
		roles := map[string]string{}
		if other != owner {
			roles[other] = []string{agenda.RolePending, agenda.RoleAccepted, agenda.RoleAuto, agenda.RoleDeclined}[i%4]
		}
		bs = append(bs, l.batch(node, createAppointment(id, owner, start, start.Add(time.Hour), roles)...))
		w.live = append(w.live, scheduled{id: id, users: append([]string{owner}, sortedKeys(roles)...)})
		if i%5 == 2 && len(w.live) > 1 {
			m := w.live[len(w.live)-2]
			s := start.Add(24 * time.Hour)
			bs = append(bs, l.batch(node, rescheduleAppointment(m.id, "Moved "+m.id, s, s.Add(30*time.Minute), m.users...)...))
		}
		if i%6 == 4 && len(w.live) > 2 {
			d := w.live[0]
			w.live = w.live[1:]
			bs = append(bs, l.batch(node, deleteAppointment(d.id, d.users...)...))
		}
		head = l.commit(bs...)
	}
	return head
}

// dump returns every row of every read model table, in a stable order, by
// opening the SQLite file directly and read-only.
// storeCheckpoints has each read model write the checkpoints Skip moved in
// memory only, so that its file can be dumped.
func storeCheckpoints(tb testing.TB, rms ...*readmodel.DB) {
	tb.Helper()
	for _, rm := range rms {
		if err := rm.StoreCheckpoints(); err != nil {
			tb.Fatalf("store checkpoints: %v", err)
		}
	}
}

func dump(tb testing.TB, path string) map[string][]string {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_query_only=1")
	if err != nil {
		tb.Fatalf("open %s read-only: %v", path, err)
	}
	defer db.Close()
	tables := map[string]string{
		"checkpoints":    "projection",
		"users":          "id",
		"appointments":   "id",
		"agenda_entries": "user_id, appointment_id",
		"agenda_streams": "user_id",
		"feed":           "user_id, position",
		"feed_events":    "position, variant",
	}
	out := map[string][]string{}
	for table, order := range tables {
		rows, err := db.Query("SELECT * FROM " + table + " ORDER BY " + order)
		if err != nil {
			tb.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				tb.Fatalf("scan %s: %v", table, err)
			}
			var sb strings.Builder
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&sb, "%s=%v ", cols[i], v)
			}
			out[table] = append(out[table], sb.String())
		}
		if err := rows.Err(); err != nil {
			tb.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
	}
	return out
}

// diffDumps reports the first differences between two dumps.
func diffDumps(tb testing.TB, got, want map[string][]string) {
	tb.Helper()
	for table, w := range want {
		g := got[table]
		if len(g) != len(w) {
			tb.Errorf("table %s: got %d rows, want %d", table, len(g), len(w))
		}
		shown := 0
		for i := 0; i < min(len(g), len(w)) && shown < 3; i++ {
			if g[i] != w[i] {
				tb.Errorf("table %s row %d:\n got  %s\n want %s", table, i, g[i], w[i])
				shown++
			}
		}
	}
}
