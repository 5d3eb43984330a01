package readmodel

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/agendahq/agenda"
)

// The feed is each user's view of the event log: for every committed event,
// one row per user who may see it, holding what that user may see (the
// event's data, a masked {start, end, busy} slot, and the notification the
// event gave them). Positions are global log positions, the same on every
// node, so a client can resume on any node from the last position it saw.
//
// An event's entries mostly say the same thing to many people (the event's
// data to every participant, the same masked slot to every member limited
// to busy time), so what they say is stored once per event and variant, in
// feed_events, and a feed row holds only who sees which variant, and the
// notification the event gave that user. In a 200-member group one imposed
// appointment gives 60,000 entries: stored whole they were 8.5 MB and most
// of the appointment's cost.
//
// feed_pruned remembers, per user, the newest position whose row was pruned:
// a client resuming from before it would miss something, so it is told to
// reset instead.
const feedSchema = `
CREATE TABLE feed_events (
	position   INTEGER NOT NULL,
	variant    INTEGER NOT NULL,
	event_type TEXT    NOT NULL,
	stream     TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	at         INTEGER NOT NULL,
	data       TEXT    NOT NULL,
	PRIMARY KEY (position, variant)
) WITHOUT ROWID;

CREATE TABLE feed (
	user_id      TEXT    NOT NULL,
	position     INTEGER NOT NULL,
	variant      INTEGER NOT NULL,
	notification TEXT,
	PRIMARY KEY (user_id, position)
) WITHOUT ROWID;
CREATE INDEX feed_by_position ON feed (position);

CREATE TABLE feed_pruned (
	user_id  TEXT    PRIMARY KEY,
	position INTEGER NOT NULL
) WITHOUT ROWID;
`

// DefaultFeedRetention is how many log positions of feed the read model
// keeps by default: entries at or below FeedFloor of the planning checkpoint
// are pruned.
const DefaultFeedRetention = 250_000

// feedPruneStep batches pruning, so that it costs one indexed delete every
// few thousand positions rather than one per batch.
const feedPruneStep = 4096

type feedState struct {
	retention atomic.Int64 // 0: DefaultFeedRetention
	// omitThrough and omitted serve a rebuild (OmitFeedThrough); both are
	// guarded by writeMu, which every write transaction holds.
	omitThrough int64
	omitted     map[string]int64 // user → newest position of an omitted entry
}

// SetFeedRetention sets how many log positions of feed to keep (tests use
// small values to exercise resets). n ≤ 0 restores the default. A read model
// and the scratch one that rebuilds it must keep the same retention, or
// their feeds differ.
func (db *DB) SetFeedRetention(n int64) { db.feed.retention.Store(n) }

// FeedRetention reports how many log positions of feed the read model keeps.
func (db *DB) FeedRetention() int64 {
	if n := db.feed.retention.Load(); n > 0 {
		return n
	}
	return DefaultFeedRetention
}

// FeedFloor is the position at and below which the read model keeps no feed
// entries once the planning projection's checkpoint is at checkpoint: the
// checkpoint minus the retention, rounded down to a multiple of the pruning
// step. It depends on nothing else (not on how the log was cut into
// batches, nor on when the process started), so a read model projected live
// and one rebuilt from the log hold the same feed and feed_pruned at the
// same checkpoint.
func (db *DB) FeedFloor(checkpoint int64) int64 {
	keep := db.FeedRetention()
	step := max(1, min(feedPruneStep, keep/4))
	if checkpoint <= keep {
		return 0
	}
	return (checkpoint - keep) / step * step
}

// OmitFeedThrough tells a scratch read model that it is being rebuilt to a
// checkpoint whose FeedFloor is at least floor: the feed entries at or below
// floor would be pruned before anyone reads them, so they are not written.
// What pruning would have kept of them, each user's newest position in
// feed_pruned, is recorded all the same. Who receives an entry is decided
// exactly as for one that is written; only the row is left out. SwitchFrom
// and InstallAt refuse a scratch read model whose checkpoint falls short of
// floor.
func (db *DB) OmitFeedThrough(floor int64) {
	db.writeMu.Lock()
	defer db.writeMu.Unlock()
	db.feed.omitThrough = floor
}

// FeedOmitted reports whether the feed entries of the event at position are
// left out (see OmitFeedThrough): their data need not be worked out.
func (t *Tx) FeedOmitted(position int64) bool { return position <= t.db.feed.omitThrough }

// checkFeedFloor fails if the feed entries db omitted would not all have
// been pruned at its checkpoint: the rebuild stopped short of the position
// it was started for, and its feed lacks entries.
func (db *DB) checkFeedFloor() error {
	for _, p := range Projections {
		if !OwnsFeed(p) {
			continue
		}
		if at, omitted := db.Checkpoint(p), db.feed.omitThrough; db.FeedFloor(at) < omitted {
			return fmt.Errorf("rebuilt %s stopped at %d, whose feed floor %d is below the %d it omitted entries through",
				p, at, db.FeedFloor(at), omitted)
		}
	}
	return nil
}

// OwnsFeed reports whether projection owns the feed tables (a rebuild of
// it may omit the feed it would prune, OmitFeedThrough).
func OwnsFeed(projection string) bool { return slices.Contains(projectionTables[projection], "feed") }

// FeedRecord is one feed row as the projector writes it.
type FeedRecord struct {
	UserID    string
	Position  int64
	EventType string
	Stream    string
	Version   int64
	At        time.Time
	Data      json.RawMessage
}

// noteForFeed keeps a notification until the feed entry of its event is
// written: notifications are part of the feed.
func (t *Tx) noteForFeed(n NotificationRecord) {
	if t.feedNotes == nil {
		t.feedNotes = map[string]agenda.Notification{}
	}
	t.feedNotes[n.UserID] = agenda.Notification{ID: n.ID, Type: n.Type, Payload: n.Payload, CreatedAt: n.At.UTC(),
		Position: n.Position, Version: n.Version, OriginNode: n.OriginNode}
}

// WriteFeed stores the feed entries of one event (records all share its
// position) together with the notifications the event gave. A user notified
// without an entry of their own gets one with empty data (at version 0), so
// that no notification is ever missing from the feed. Each distinct data goes into
// feed_events once; the rows point at it by variant.
//
// Entries at or below the floor of a rebuild (OmitFeedThrough) are not
// written: each recipient's position is kept for feed_pruned instead.
func (t *Tx) WriteFeed(records []FeedRecord) error {
	notes := t.feedNotes
	t.feedNotes = nil
	if len(records) > 0 && t.FeedOmitted(records[0].Position) {
		return t.omitFeed(records, notes)
	}
	// The distinct variants of the event's entries (data, stream and
	// version), numbered in the order the entries come (the projection's
	// order, the same on every node and in a rebuild): the event's own, an
	// entry's details, its busy slot, or {} beside a notification.
	var variants []FeedRecord
	variant := func(r FeedRecord) (int, error) {
		for i, d := range variants {
			if bytes.Equal(d.Data, r.Data) && d.Stream == r.Stream && d.Version == r.Version {
				return i, nil
			}
		}
		variants = append(variants, r)
		v := len(variants) - 1
		err := t.sideExec(`INSERT INTO feed_events (position, variant, event_type, stream, version, at, data)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Position, v, r.EventType, r.Stream, r.Version, r.At.UnixNano(), string(r.Data))
		if err != nil {
			return 0, fmt.Errorf("insert feed event %d: %w", r.Position, err)
		}
		return v, nil
	}
	insert := func(r FeedRecord, note any) error {
		v, err := variant(r)
		if err != nil {
			return err
		}
		if err := t.sideExec(`INSERT INTO feed (user_id, position, variant, notification) VALUES (?, ?, ?, ?)`,
			r.UserID, r.Position, v, note); err != nil {
			return fmt.Errorf("insert feed entry %d for %s: %w", r.Position, r.UserID, err)
		}
		return nil
	}
	for _, r := range records {
		var note any
		if n, ok := notes[r.UserID]; ok {
			delete(notes, r.UserID)
			b, err := json.Marshal(n)
			if err != nil {
				return err
			}
			note = string(b)
		}
		if err := insert(r, note); err != nil {
			return err
		}
	}
	for _, user := range slices.Sorted(maps.Keys(notes)) {
		n := notes[user]
		b, err := json.Marshal(n)
		if err != nil {
			return err
		}
		if len(records) == 0 {
			return fmt.Errorf("notification %s of position %d has no feed entry to describe it", n.ID, n.Position)
		}
		// Told nothing of the event but its notification: at version 0,
		// as the stream's version counts what they are not told.
		r := records[0]
		r.UserID, r.Data, r.Version = user, json.RawMessage(`{}`), 0
		if err := insert(r, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// RevokeFeed closes each user's feed before position: it records
// position-1 as pruned for them, so that a client resuming from before
// position is told to reset (and reloads through the queries, which show
// only what the user may see now), and Feed, which never reads at or below
// that mark, no longer hands out what came before. The projection calls it
// when an event takes from users the right to see something their feed
// told them (a member removed, a group deleted, a rank changed, an
// appointment's details hidden): the feed is a history, and without this
// it handed the old details to anyone who asked from an earlier position
// (a review read a removed manager's former subordinate's appointment
// that way, while the queries answered 404).
//
// The rows stay until pruning takes them: the live stream still sends
// those the same transaction wrote before position (the user was entitled
// to them, and their notifications ride on them), and the feed stays a
// function of the log, not of how it was cut into transactions. feed_pruned
// only rises (MAX), as pruning and a rebuild's omitted entries raise it, so
// a read model projected live and one rebuilt hold the same.
func (t *Tx) RevokeFeed(users []string, position int64) error {
	for _, u := range users {
		if _, err := t.exec(`INSERT INTO feed_pruned (user_id, position) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET position = MAX(position, excluded.position)`, u, position-1); err != nil {
			return fmt.Errorf("revoke feed of %s: %w", u, err)
		}
	}
	return nil
}

// omitFeed records, for feed_pruned, that the users of records and notes
// had an entry at its position.
func (t *Tx) omitFeed(records []FeedRecord, notes map[string]agenda.Notification) error {
	pos := records[0].Position
	f := &t.db.feed
	if f.omitted == nil {
		f.omitted = map[string]int64{}
	}
	for _, r := range records {
		f.omitted[r.UserID] = pos
	}
	for user := range notes {
		f.omitted[user] = pos
	}
	return nil
}

// pruneFeed drops the feed entries at or below FeedFloor of the checkpoint
// the transaction moves to, remembering per user the newest position it
// dropped, whenever the floor moved. The previous floor was pruned by the
// transaction that stored the previous checkpoint, so the feed at a
// checkpoint is the same however the log was cut into transactions, and
// whether or not the process restarted in between.
//
// It also stores what a rebuild omitted (OmitFeedThrough).
func (t *Tx) pruneFeed() error {
	if t.db == nil || !OwnsFeed(t.projection) {
		return nil
	}
	if err := t.storeOmitted(); err != nil {
		return err
	}
	floor := t.db.FeedFloor(t.to)
	if floor <= t.db.FeedFloor(t.from) {
		return nil
	}
	return pruneFeedThrough(func(q string, args ...any) error {
		_, err := t.exec(q, args...)
		return err
	}, floor)
}

// pruneFeedQuery records, per user, the newest feed position at or below
// ?1. "GROUP BY +user_id" keeps SQLite from walking the whole feed in its
// primary key's (user, position) order to spare a sort: it reads only the
// entries being pruned, through feed_by_position, and sorts those.
const pruneFeedQuery = `INSERT INTO feed_pruned (user_id, position)
	SELECT user_id, MAX(position) FROM feed WHERE position <= ?1 GROUP BY +user_id
	ON CONFLICT (user_id) DO UPDATE SET position = MAX(position, excluded.position)`

// pruneFeedThrough drops the feed entries at or below floor, remembering
// per user the newest position it dropped.
func pruneFeedThrough(exec func(query string, args ...any) error, floor int64) error {
	if err := exec(pruneFeedQuery, floor); err != nil {
		return fmt.Errorf("prune feed: %w", err)
	}
	for _, table := range []string{"feed", "feed_events"} {
		if err := exec(`DELETE FROM `+table+` WHERE position <= ?`, floor); err != nil {
			return fmt.Errorf("prune %s: %w", table, err)
		}
	}
	return nil
}

// storeOmitted writes to feed_pruned the newest position of each user's
// entries a rebuild left out in this transaction.
func (t *Tx) storeOmitted() error {
	f := &t.db.feed
	if len(f.omitted) == 0 {
		return nil
	}
	users := make([]string, 0, len(f.omitted))
	for u := range f.omitted {
		users = append(users, u)
	}
	sort.Strings(users) // in key order: fewer pages touched, and deterministic
	for _, u := range users {
		if _, err := t.exec(`INSERT INTO feed_pruned (user_id, position) VALUES (?, ?)
			ON CONFLICT (user_id) DO UPDATE SET position = MAX(position, excluded.position)`, u, f.omitted[u]); err != nil {
			return fmt.Errorf("record omitted feed of %s: %w", u, err)
		}
	}
	clear(f.omitted)
	return nil
}

// selectFeed reads feed entries. Their notifications name their actor and
// subject as /api/notifications does (selectNotifications): added to the
// stored JSON as it is read, since a name can change after it was stored
// (json_patch drops a key whose value is null: nobody found, nothing added).
const selectFeed = `SELECT f.user_id, f.position, e.event_type, e.stream, e.version, e.at, e.data,
		CASE WHEN f.notification IS NOT NULL THEN json_patch(f.notification, json_object(
			'actor', CASE WHEN a.id IS NOT NULL THEN json_object('id', a.id, 'username', a.username, 'display_name', a.display_name) END,
			'subject', CASE WHEN s.id IS NOT NULL THEN json_object('id', s.id, 'username', s.username, 'display_name', s.display_name) END)) END
	FROM feed f JOIN feed_events e ON e.position = f.position AND e.variant = f.variant
		LEFT JOIN users a ON f.notification IS NOT NULL AND a.id = json_extract(f.notification, '$.payload.by')
		LEFT JOIN users s ON f.notification IS NOT NULL AND s.id = json_extract(f.notification, '$.payload.user_id')`

// userFeedQuery reads user ?1's feed entries after position ?2 up to ?3,
// at most ?4; feedRangeQuery everyone's after ?1 up to ?2, at most ?3.
const (
	userFeedQuery = selectFeed + ` WHERE f.user_id = ?1 AND f.position > ?2 AND f.position <= ?3
		AND f.position > COALESCE((SELECT position FROM feed_pruned WHERE user_id = ?1), 0) ORDER BY f.position LIMIT ?4`
	feedRangeQuery = selectFeed + ` WHERE f.position > ? AND f.position <= ? ORDER BY f.position, f.user_id LIMIT ?`
)

// Feed returns up to limit of userID's feed entries with a position in
// (after, upTo], in order, stopping after the one whose bytes reach
// maxBytes (agenda.FeedPageFull); never one at or below the user's mark in
// feed_pruned (RevokeFeed), whose rows may not have been pruned yet.
func (db *DB) Feed(ctx context.Context, userID string, after, upTo int64, limit, maxBytes int) ([]agenda.FeedEntry, error) {
	rows, err := db.query(ctx, userFeedQuery, userID, after, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("read feed of %s: %w", userID, err)
	}
	return scanFeed(rows, maxBytes)
}

// FeedRange returns every user's feed entries with a position in
// (after, upTo], in order, at most limit of them: what a live hub fans out.
func (db *DB) FeedRange(ctx context.Context, after, upTo int64, limit int) ([]agenda.FeedEntry, error) {
	rows, err := db.query(ctx, feedRangeQuery, after, upTo, limit)
	if err != nil {
		return nil, fmt.Errorf("read feed after %d: %w", after, err)
	}
	return scanFeed(rows, 0)
}

// scanFeed reads feed entries, stopping after the one whose bytes (data
// and notification) reach maxBytes if that is not 0 (see
// agenda.FeedPageFull).
func scanFeed(rows *sql.Rows, maxBytes int) ([]agenda.FeedEntry, error) {
	defer rows.Close()
	out := []agenda.FeedEntry{}
	size := 0
	for (maxBytes == 0 || size < maxBytes) && rows.Next() {
		var e agenda.FeedEntry
		var at int64
		var data string
		var note sql.NullString
		if err := rows.Scan(&e.UserID, &e.Position, &e.EventType, &e.Stream, &e.Version, &at, &data, &note); err != nil {
			return nil, err
		}
		e.Type = agenda.FeedEvent
		e.Time = time.Unix(0, at).UTC()
		e.Data = json.RawMessage(data)
		if note.Valid {
			e.Notification = json.RawMessage(note.String)
		}
		size += e.Bytes()
		out = append(out, e)
	}
	return out, rows.Err()
}

// FeedPruned returns the newest position of userID's feed that was pruned
// (0 if none): a client resuming from before it must reset.
func (db *DB) FeedPruned(ctx context.Context, userID string) (int64, error) {
	var p int64
	err := db.queryRow(ctx, `SELECT position FROM feed_pruned WHERE user_id = ?`, userID).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read feed floor of %s: %w", userID, err)
	}
	return p, nil
}
