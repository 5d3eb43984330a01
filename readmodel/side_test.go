package readmodel_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/agendahq/agenda/readmodel"
)

// A scratch read model writes its feed and notifications into a side file
// and joins them in at CreateDeferredIndexes; the result must be the tables
// a read model writing them itself holds — inserts, updates of
// notifications after their insert, and the feed pruned past its floor
// while the scratch was built (retention 8 over 30 positions).
func TestScratchSideTablesMatchInlineWrites(t *testing.T) {
	ctx := context.Background()
	live, path := mustOpenDB(t)
	scratchPath := readmodel.ScratchPath(path, readmodel.ProjectionPlanning)
	scratch, err := readmodel.OpenScratch(ctx, scratchPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { scratch.Close() })
	users := []string{"u1", "u2", "u3"}
	step := func(pos int64) func(*readmodel.Tx) error {
		return func(tx *readmodel.Tx) error {
			to := users[pos%3]
			if err := tx.InsertNotification(readmodel.NotificationRecord{ID: fmt.Sprintf("n%02d", pos), UserID: to,
				Type: "appointment.invited", Payload: []byte(`{"p":1}`), At: at, Position: pos, Version: 1, OriginNode: "a"}); err != nil {
				return err
			}
			if pos == 25 {
				if err := tx.MarkNotificationRead("u2", "n22", at, "a"); err != nil {
					return err
				}
				if err := tx.MarkNotificationsRead("u1", 24, at, "a"); err != nil {
					return err
				}
				if err := tx.SetNotificationStreamVersion("u1", 3, "a"); err != nil {
					return err
				}
			}
			var records []readmodel.FeedRecord
			for _, u := range users[:2] {
				records = append(records, readmodel.FeedRecord{UserID: u, Position: pos, EventType: "appointment.invited",
					Stream: "appointment-x", Version: pos, At: at, Data: []byte(fmt.Sprintf(`{"u":%q}`, u))})
			}
			return tx.WriteFeed(records)
		}
	}
	for _, db := range []*readmodel.DB{live, scratch} {
		db.SetFeedRetention(8)
		for pos := int64(1); pos <= 30; pos++ {
			if err := db.Apply(ctx, readmodel.ProjectionPlanning, pos-1, pos, step(pos)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := scratch.CreateDeferredIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	tables := []string{"feed", "feed_events", "feed_pruned", "notifications", "notification_streams"}
	want, err := live.Digest(ctx, tables...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scratch.Digest(ctx, tables...)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		for _, table := range tables {
			if got[table] != want[table] {
				t.Errorf("%s differs between the scratch read model and one written inline", table)
			}
		}
	}
	if n := queryInt(t, rawDB(t, path), "SELECT COUNT(*) FROM feed"); n >= 60 {
		t.Errorf("inline read model keeps all %d feed rows: the test prunes nothing", n)
	}
	left, _ := filepath.Glob(scratchPath + "-*")
	for _, f := range left {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("side file %s left after the join", f)
		}
	}
}

// A side statement that fails (here a feed row written twice) fails the
// join, and the scratch read model stays unusable: installing it after the
// failed join must fail too, not install it without its feed.
func TestScratchWhoseSideFailedCannotBeInstalled(t *testing.T) {
	ctx := context.Background()
	_, path := mustOpenDB(t)
	scratch, err := readmodel.OpenScratch(ctx, readmodel.ScratchPath(path, "offline"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { scratch.Close() })
	twice := readmodel.FeedRecord{UserID: "u1", Position: 1, EventType: "appointment.invited",
		Stream: "appointment-x", Version: 1, At: at, Data: []byte(`{}`)}
	for pos := int64(1); pos <= 2; pos++ {
		if err := scratch.Apply(ctx, readmodel.ProjectionPlanning, pos-1, pos, func(tx *readmodel.Tx) error {
			return tx.WriteFeed([]readmodel.FeedRecord{twice})
		}); err != nil {
			t.Fatal(err) // written aside: the failure shows at the join
		}
	}
	if err := scratch.CreateDeferredIndexes(ctx); err == nil {
		t.Fatal("CreateDeferredIndexes joined a side file whose writes failed")
	}
	if err := scratch.InstallAt(path); err == nil {
		t.Fatal("InstallAt installed a scratch read model whose side tables were never joined")
	}
}
