package projections_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// feedTestRetention is small enough that the feed is pruned dozens of times
// (every 50 positions) in a history of a few thousand events.
const feedTestRetention = 200

// The feed and feed_pruned are a function of the log and the checkpoint
// alone: a read model projected live, in batches of whatever size the
// writes made and across a restart of the projector, one projected from
// scratch in one go, one rebuilt online (while the live projector goes on)
// and one rebuilt offline hold identical tables, feed and feed_pruned
// included, though a rebuild leaves out the entries it knows it would prune.
func TestFeedIdenticalLiveAndRebuilt(t *testing.T) {
	ctx := context.Background()
	store := mustOpenStore(t)
	path := filepath.Join(t.TempDir(), "readmodel.db")
	rm := mustOpenReadModel(t, path)
	rm.SetFeedRetention(feedTestRetention)
	l := newEventLog(t, store)
	scenario(l, 12)
	groups(l)
	p := startProjector(t, store, rm)

	// Write in small commits the projector picks up in batches of any
	// size, and restart it (a new process: a new read model handle) half
	// way.
	for i := 0; i < 300; i++ {
		scenario(l, 1)
		if i%40 == 20 {
			churn(l, i/40)
		}
	}
	waitProjected(t, rm, store.Head())
	p.stop(t)
	rm.Close()
	rm = mustOpenReadModel(t, path)
	rm.SetFeedRetention(feedTestRetention)
	p = startProjector(t, store, rm)
	// A read model projected from scratch, in other batches.
	reference := func(t *testing.T, upTo int64) map[string]string {
		t.Helper()
		ref := mustOpenReadModel(t, filepath.Join(t.TempDir(), "reference.db"))
		ref.SetFeedRetention(feedTestRetention)
		rp := startProjector(t, store, ref)
		waitProjected(t, ref, upTo)
		rp.stop(t)
		return digest(t, ref)
	}
	for i := 1; i <= 300; i++ {
		scenario(l, 1)
		if i%40 == 10 {
			churn(l, i/40)
		}
		if i%60 == 0 { // a few checkpoints, each at another phase of the pruning step
			h := store.Head()
			waitProjected(t, rm, h)
			compare(t, fmt.Sprintf("live at %d", h), digest(t, rm), "projected in one go", reference(t, h))
		}
	}
	head := store.Head()
	waitProjected(t, rm, head)
	if d := digest(t, rm)["feed_pruned"]; strings.HasPrefix(d, "0 rows") {
		t.Fatalf("nothing was pruned (feed_pruned: %s): the test proves nothing", d)
	}

	// Online, while the live projector goes on projecting new writes.
	if _, err := p.StartRebuild(readmodel.ProjectionPlanning); err != nil {
		t.Fatalf("StartRebuild: %v", err)
	}
	waitUntil(t, time.Minute, "the online rebuild finishes", func() bool {
		scenario(l, 1)
		for _, s := range p.Status() {
			if s.Name == readmodel.ProjectionPlanning && s.LastRebuild != nil {
				if s.LastRebuild.State != "done" {
					t.Fatalf("online rebuild: %+v", s.LastRebuild)
				}
				return true
			}
		}
		return false
	})
	for i := 0; i < 20; i++ {
		scenario(l, 1)
	}
	head = store.Head()
	waitProjected(t, rm, head)
	p.stop(t)
	live := digest(t, rm)
	compare(t, "rebuilt online", live, "projected in one go", reference(t, head))
	rm.Close()

	prs, err := projections.RebuildOffline(ctx, store, path, projections.All(), nil, projections.WithFeedRetention(feedTestRetention))
	if err != nil {
		t.Fatalf("RebuildOffline: %v", err)
	}
	if prs[1].Position != head {
		t.Fatalf("RebuildOffline = %+v, want done at %d", prs, head)
	}
	rm = mustOpenReadModel(t, path)
	compare(t, "rebuilt offline", digest(t, rm), "live", live)
}

// groups has the first users share two groups, a hierarchical one and a
// flat one, so that agenda events reach other members (details or busy
// time).
func groups(l *eventLog) {
	l.tb.Helper()
	var ws []write
	ws = append(ws, groupCreated("gh", "u0000", true)...)
	for i, u := range []string{"u0001", "u0002", "u0003"} {
		ws = append(ws, write{events.GroupStream("gh"), events.GroupMemberAdded{GroupID: "gh", UserID: u, Rank: agenda.MaxRank - 1 - i}})
	}
	ws = append(ws, groupCreated("gf", "u0002", false)...)
	for _, u := range []string{"u0001", "u0004"} {
		ws = append(ws, write{events.GroupStream("gf"), events.GroupMemberAdded{GroupID: "gf", UserID: u}})
	}
	l.append("node-a", ws...)
}

// churn changes memberships in the groups of groups(), as round i: a rank
// that flips u0003 above and below the others in gh, and u0004 leaving and
// joining gf again. Each closes some feeds (RevokeFeed), which a rebuild
// must close alike.
func churn(l *eventLog, i int) {
	l.tb.Helper()
	rank := 10
	if i%2 == 0 {
		rank = agenda.MaxRank - 10
	}
	l.append("node-b", write{events.GroupStream("gh"), events.GroupMemberRankChanged{GroupID: "gh", UserID: "u0003", Rank: rank}})
	l.append("node-c", write{events.GroupStream("gf"), events.GroupMemberRemoved{GroupID: "gf", UserID: "u0004", Left: true}})
	l.append("node-a", write{events.GroupStream("gf"), events.GroupMemberAdded{GroupID: "gf", UserID: "u0004"}})
}

func digest(t *testing.T, rm *readmodel.DB) map[string]string {
	t.Helper()
	d, err := rm.Digest(context.Background())
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	for _, table := range []string{"feed", "feed_pruned"} {
		if _, ok := d[table]; !ok {
			t.Fatalf("digest lacks %s", table)
		}
	}
	return d
}

func compare(t *testing.T, gotName string, got map[string]string, wantName string, want map[string]string) {
	t.Helper()
	for table, w := range want {
		if got[table] != w {
			t.Errorf("%s: %s is %s, %s: %s", table, gotName, got[table], wantName, w)
		}
	}
}

// A scratch read model that omitted feed entries up to some floor cannot be
// switched in or installed before its checkpoint reaches that floor: its
// feed would lack them.
func TestRebuildShortOfItsFeedFloorIsRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := mustOpenReadModel(t, filepath.Join(dir, "readmodel.db"))
	scratch, err := readmodel.OpenScratch(ctx, filepath.Join(dir, "scratch.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer scratch.Close()
	scratch.SetFeedRetention(feedTestRetention)
	scratch.OmitFeedThrough(scratch.FeedFloor(1000))
	_, err = live.SwitchFrom(ctx, readmodel.ProjectionPlanning, scratch, func(int64) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "feed floor") {
		t.Errorf("SwitchFrom of a scratch short of its feed floor: %v, want refused", err)
	}
	if err := scratch.InstallAt(filepath.Join(dir, "other.db")); err == nil || !strings.Contains(err.Error(), "feed floor") {
		t.Errorf("InstallAt of a scratch short of its feed floor: %v, want refused", err)
	}
}
