package readmodel_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// TestFeedStoresWhatAnEventSaysOncePerVariant: the entries of one event
// share what they say, stored once per distinct data (feed_events), yet
// each user reads back exactly the entry written for them; pruning drops
// both.
func TestFeedStoresWhatAnEventSaysOncePerVariant(t *testing.T) {
	ctx := context.Background()
	db, path := mustOpenDB(t)
	db.SetFeedRetention(8)
	full, busy := []byte(`{"title":"Board"}`), []byte(`{"busy":true}`)
	data := map[string][]byte{"u1": full, "u2": full, "u3": busy, "u4": full, "u5": busy}
	err := db.Apply(ctx, readmodel.ProjectionPlanning, 0, 1, func(tx *readmodel.Tx) error {
		var records []readmodel.FeedRecord
		for _, u := range []string{"u1", "u2", "u3", "u4", "u5"} {
			// Equal data in separate slices, as different code paths build it.
			records = append(records, readmodel.FeedRecord{UserID: u, Position: 1, EventType: "agenda.entry_added",
				Stream: "agenda-u1", Version: 7, At: at, Data: append([]byte(nil), data[u]...)})
		}
		return tx.WriteFeed(records)
	})
	if err != nil {
		t.Fatal(err)
	}
	for u, want := range data {
		entries, err := db.Feed(ctx, u, 0, 1, 10, agenda.MaxFeedPageBytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("feed of %s: %d entries, want 1", u, len(entries))
		}
		e := entries[0]
		if e.UserID != u || e.Position != 1 || e.EventType != "agenda.entry_added" || e.Stream != "agenda-u1" ||
			e.Version != 7 || !e.Time.Equal(at) || string(e.Data) != string(want) {
			t.Errorf("feed of %s: %+v (data %s), want data %s", u, e, e.Data, want)
		}
	}
	raw := rawDB(t, path)
	count := func(table string) int64 { return queryInt(t, raw, "SELECT COUNT(*) FROM "+table) }
	if n := count("feed_events"); n != 2 {
		t.Errorf("feed_events holds %d rows for two distinct data, want 2", n)
	}

	// Far enough for the floor to pass position 1: both tables lose it.
	if err := db.Apply(ctx, readmodel.ProjectionPlanning, 1, 40, func(*readmodel.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if f, e := count("feed"), count("feed_events"); f != 0 || e != 0 {
		t.Errorf("after pruning: %d feed rows, %d feed_events rows; want none", f, e)
	}
}

// TestEntryViewersSeeAMembershipAddedInTheSameTransaction: EntryViewers
// remembers, for the rest of a transaction, who is in no group; a member
// added (or invited) later in that transaction must count all the same.
func TestEntryViewersSeeAMembershipAddedInTheSameTransaction(t *testing.T) {
	db, _ := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error {
		if err := tx.InsertAppointment(appointmentRecord("a1", "owner", at, at.Add(time.Hour))); err != nil {
			return err
		}
		if err := tx.AddAgendaEntry("owner", "a1", at, at.Add(time.Hour), agenda.RoleOwner, "node-a"); err != nil {
			return err
		}
		for _, who := range []string{"owner", "boss"} {
			if vs, err := tx.EntryViewers(who, "a1"); err != nil || len(vs) != 0 {
				t.Fatalf("EntryViewers(%s) before any group: %v, %v; want none", who, vs, err)
			}
		}
		err := tx.InsertGroup(readmodel.GroupRecord{ID: "g", Name: "G", CreatorID: "boss", Hierarchical: true,
			At: at, Version: 1, OriginNode: "node-a"})
		if err != nil {
			return err
		}
		if err := tx.SetMember("g", "boss", 100, at, "node-a"); err != nil {
			return err
		}
		// Invited only: the owner now has a row, yet nobody sees the entry.
		if err := tx.InviteMember("g", "owner", 10, "boss", at, "node-a"); err != nil {
			return err
		}
		if vs, err := tx.EntryViewers("owner", "a1"); err != nil || len(vs) != 0 {
			t.Fatalf("EntryViewers(owner) while invited: %v, %v; want none", vs, err)
		}
		if err := tx.ActivateMember("g", "owner", at, "node-a"); err != nil {
			return err
		}
		vs, err := tx.EntryViewers("owner", "a1")
		if err != nil {
			return err
		}
		if len(vs) != 1 || vs[0].UserID != "boss" {
			t.Fatalf("EntryViewers(owner) once a member: %+v, want boss", vs)
		}
		// boss joined through SetMember.
		if vs, err = tx.EntryViewers("boss", "a1"); err != nil {
			return err
		}
		if len(vs) != 1 || vs[0].UserID != "owner" {
			t.Fatalf("EntryViewers(boss) once both are members: %+v, want owner", vs)
		}
		return nil
	})
}

// TestRevokeFeedClosesWhatCameBefore: RevokeFeed marks a user's feed closed
// before a position: Feed never reads at or below the mark (rows written
// before it in the same transaction included), FeedPruned reports it, the
// others' feeds are untouched, and the mark only rises, whether pruning or
// a later, lower revocation comes after it.
func TestRevokeFeedClosesWhatCameBefore(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	db.SetFeedRetention(8)
	write := func(tx *readmodel.Tx, pos int64, users ...string) error {
		var records []readmodel.FeedRecord
		for _, u := range users {
			records = append(records, readmodel.FeedRecord{UserID: u, Position: pos, EventType: "agenda.entry_added",
				Stream: "agenda-u1", Version: pos, At: at, Data: []byte(`{"title":"Board"}`)})
		}
		return tx.WriteFeed(records)
	}
	err := db.Apply(ctx, readmodel.ProjectionPlanning, 0, 3, func(tx *readmodel.Tx) error {
		for pos := int64(1); pos <= 2; pos++ {
			if err := write(tx, pos, "u1", "u2"); err != nil {
				return err
			}
		}
		if err := tx.RevokeFeed([]string{"u1"}, 3); err != nil {
			return err
		}
		return write(tx, 3, "u1", "u2")
	})
	if err != nil {
		t.Fatal(err)
	}
	positions := func(user string) []int64 {
		t.Helper()
		entries, err := db.Feed(ctx, user, 0, 10, 10, agenda.MaxFeedPageBytes)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range entries {
			out = append(out, e.Position)
		}
		return out
	}
	if got := positions("u1"); len(got) != 1 || got[0] != 3 {
		t.Errorf("u1's feed after a revocation at 3: positions %v, want [3]", got)
	}
	if got := positions("u2"); len(got) != 3 {
		t.Errorf("u2's feed: positions %v, want all three", got)
	}
	if p, err := db.FeedPruned(ctx, "u1"); err != nil || p != 2 {
		t.Errorf("FeedPruned(u1) = %d, %v; want 2", p, err)
	}
	// A lower revocation later does not reopen anything.
	if err := db.Apply(ctx, readmodel.ProjectionPlanning, 3, 4, func(tx *readmodel.Tx) error {
		return tx.RevokeFeed([]string{"u1"}, 2)
	}); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.FeedPruned(ctx, "u1"); p != 2 {
		t.Errorf("FeedPruned(u1) after a lower revocation = %d, want 2", p)
	}
}

// A page of one user's feed stops after the entry that reaches its byte
// bound, whatever its limit, and holds at least one entry: reading on from
// its last position gives the rest.
func TestFeedPageStopsAtItsByteBound(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	big := []byte(`{"description":"` + strings.Repeat("x", 300<<10) + `"}`) // 300 KiB
	const n = 10
	err := db.Apply(ctx, readmodel.ProjectionPlanning, 0, n, func(tx *readmodel.Tx) error {
		var records []readmodel.FeedRecord
		for p := int64(1); p <= n; p++ {
			// Distinct data, so that each entry's is stored once.
			data := append([]byte(nil), big...)
			data[len(data)-3] = byte('a' + p)
			records = append(records, readmodel.FeedRecord{UserID: "u1", Position: p, EventType: "agenda.entry_added",
				Stream: "agenda-u1", Version: p, At: at, Data: data})
		}
		return tx.WriteFeed(records)
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	after := int64(0)
	for pages := 0; ; pages++ {
		page, err := db.Feed(ctx, "u1", after, n, 1000, agenda.MaxFeedPageBytes)
		if err != nil {
			t.Fatal(err)
		}
		if pages > n {
			t.Fatalf("more than %d pages", n)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 4 {
			t.Fatalf("a page of %d entries of 300 KiB, want at most 4 (1 MiB reached by the 4th)", len(page))
		}
		if !agenda.FeedPageFull(page, 1000, agenda.MaxFeedPageBytes) && page[len(page)-1].Position != n {
			t.Fatalf("a page ending at %d is not full, but more follows", page[len(page)-1].Position)
		}
		for _, e := range page {
			got = append(got, e.Position)
		}
		after = page[len(page)-1].Position
	}
	if len(got) != n {
		t.Fatalf("read %v, want positions 1 to %d once each", got, n)
	}
	// A stream's history reads smaller pages: each entry is past the bound.
	page, err := db.Feed(ctx, "u1", 0, n, 1000, agenda.MaxStreamPageBytes)
	if err != nil || len(page) != 1 || !agenda.FeedPageFull(page, 1000, agenda.MaxStreamPageBytes) {
		t.Fatalf("a stream's page of 300 KiB entries: %d entries, %v; want one, full", len(page), err)
	}
}
