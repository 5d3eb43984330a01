package readmodel_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // raw access to the read model file

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// mustOpenDB opens a read model in a temp dir, closed when the test ends.
func mustOpenDB(tb testing.TB) (*readmodel.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "readmodel.db")
	db, err := readmodel.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("open read model: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, path
}

// reopen closes db, the read model at path, and opens it again, as a
// restart does; the new one is closed when the test ends.
func reopen(tb testing.TB, db *readmodel.DB, path string) *readmodel.DB {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	again, err := readmodel.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("reopen read model: %v", err)
	}
	tb.Cleanup(func() { again.Close() })
	return again
}

// mustApply applies fn as projection, moving its checkpoint forward by one.
func mustApply(tb testing.TB, db *readmodel.DB, projection string, fn func(tx *readmodel.Tx) error) {
	tb.Helper()
	from := db.Checkpoint(projection)
	if err := db.Apply(context.Background(), projection, from, from+1, fn); err != nil {
		tb.Fatalf("apply %s at %d: %v", projection, from, err)
	}
}

// rawDB opens the read model file directly, read-write, for tampering and
// for checks that must not go through package readmodel.
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=5000")
	if err != nil {
		tb.Fatalf("open %s: %v", path, err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	return db
}

func queryInt(tb testing.TB, db *sql.DB, query string, args ...any) int64 {
	tb.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// at is a fixed reference time for the tests.
var at = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func user(id, username, display string) agenda.User {
	return agenda.User{ID: id, Username: username, DisplayName: display, Email: username + "@example.com",
		PasswordHash: "hash", CreatedAt: at, Version: 1, OriginNode: "node-a"}
}

func appointmentRecord(id, owner string, start, end time.Time) readmodel.AppointmentRecord {
	return readmodel.AppointmentRecord{ID: id, OwnerID: owner, Title: "Title " + id, Description: "Desc " + id,
		Location: "Loc " + id, Start: start, End: end, Privacy: agenda.PrivacyFull, Status: agenda.StatusConfirmed,
		CreatedAt: at, UpdatedAt: at, Version: 1, OriginNode: "node-a"}
}

// booking is an appointment and the agenda entries of its participants.
type booking struct {
	id         string
	owner      string
	start, end time.Time
	roles      map[string]string // participant → role; the owner is added as owner
}

// book stores bookings as the planning projection would.
func book(tb testing.TB, db *readmodel.DB, bs ...booking) {
	tb.Helper()
	mustApply(tb, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		for _, b := range bs {
			if err := tx.InsertAppointment(appointmentRecord(b.id, b.owner, b.start, b.end)); err != nil {
				return err
			}
			if _, ok := b.roles[b.owner]; !ok {
				if err := tx.AddAgendaEntry(b.owner, b.id, b.start, b.end, agenda.RoleOwner, "node-a"); err != nil {
					return err
				}
				if err := tx.SetParticipant(b.id, b.owner, agenda.RoleOwner, 1, "node-a"); err != nil {
					return err
				}
			}
			for u, role := range b.roles {
				if err := tx.AddAgendaEntry(u, b.id, b.start, b.end, role, "node-b"); err != nil {
					return err
				}
				if err := tx.SetParticipant(b.id, u, role, 1, "node-b"); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func ids[T any](items []T, id func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
