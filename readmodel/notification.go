package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agendahq/agenda"
)

// notificationStateQuery reads what NotificationState returns of user ?1
// and notification ?2.
const notificationStateQuery = `SELECT
	COALESCE((SELECT version FROM notification_streams WHERE user_id = ?1), 0),
	(SELECT read_at FROM notifications WHERE id = ?2 AND user_id = ?1),
	COALESCE((SELECT version FROM notifications WHERE id = ?2 AND user_id = ?1), 0),
	(SELECT COUNT(*) FROM notifications WHERE user_id = ?1 AND read_at IS NULL),
	COALESCE((SELECT MAX(position) FROM notifications WHERE user_id = ?1), 0)`

// notificationsQuery reads user ?1's newest ?2 notifications;
// unreadNotificationsQuery only the unread ones, through notifications_unread.
// Both name the notification's actor (the payload's "by") and its subject
// (its "user_id") as they are called now, not as they were when it was
// written: a payload keeps IDs only, so a renamed user reads renamed, and a
// rebuild writes the payloads it wrote before.
const (
	notificationsQuery       = selectNotifications + ` WHERE n.user_id = ?1 ORDER BY n.position DESC, n.id LIMIT ?2`
	unreadNotificationsQuery = selectNotifications + ` WHERE n.user_id = ?1 AND n.read_at IS NULL
		ORDER BY n.position DESC, n.id LIMIT ?2`
	selectNotifications = `SELECT n.id, n.type, n.payload, n.created_at, n.read_at, n.position, n.version, n.origin_node,
		a.id, a.username, a.display_name, s.id, s.username, s.display_name
		FROM notifications n
		LEFT JOIN users a ON a.id = json_extract(n.payload, '$.by')
		LEFT JOIN users s ON s.id = json_extract(n.payload, '$.user_id')`
)

// Notifications returns userID's notifications, newest first, at most limit
// of them; only unread ones if unreadOnly.
func (db *DB) Notifications(ctx context.Context, userID string, unreadOnly bool, limit int) ([]agenda.Notification, error) {
	q := notificationsQuery
	if unreadOnly {
		q = unreadNotificationsQuery
	}
	rows, err := db.query(ctx, q, userID, limit)
	if err != nil {
		return nil, fmt.Errorf("read notifications of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []agenda.Notification{}
	for rows.Next() {
		var n agenda.Notification
		var payload string
		var created int64
		var readAt sql.NullInt64
		var actor, subject nullableUser
		if err := rows.Scan(&n.ID, &n.Type, &payload, &created, &readAt, &n.Position, &n.Version, &n.OriginNode,
			&actor.id, &actor.username, &actor.displayName, &subject.id, &subject.username, &subject.displayName); err != nil {
			return nil, err
		}
		n.Actor, n.Subject = actor.summary(), subject.summary()
		n.Payload = []byte(payload)
		n.CreatedAt = time.Unix(0, created).UTC()
		if readAt.Valid {
			t := time.Unix(0, readAt.Int64).UTC()
			n.ReadAt = &t
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// nullableUser is a user a LEFT JOIN may not have found.
type nullableUser struct{ id, username, displayName sql.NullString }

// summary is the user found, or nil.
func (u nullableUser) summary() *agenda.UserSummary {
	if !u.id.Valid {
		return nil
	}
	return &agenda.UserSummary{ID: u.id.String, Username: u.username.String, DisplayName: u.displayName.String}
}

// NotificationState reads, in one statement, the version of userID's
// notification stream, whether notification id is theirs and read, how
// many are unread, and the position of the newest.
//
// The unread ones are counted in notifications_unread. A notification's
// version starts at 1, so one found has a version.
func (db *DB) NotificationState(ctx context.Context, userID, id string) (agenda.NotificationState, error) {
	var s agenda.NotificationState
	var readAt sql.NullInt64
	err := db.queryRow(ctx, notificationStateQuery, userID, id).
		Scan(&s.StreamVersion, &readAt, &s.Version, &s.Unread, &s.Latest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("read notification state of %s: %w", userID, err)
	}
	s.Found, s.Read = s.Version > 0, readAt.Valid
	return s, nil
}

// NotificationRecord is a notification as the projector writes it.
type NotificationRecord struct {
	ID, UserID, Type string
	Payload          []byte
	At               time.Time
	Position         int64
	Version          int64
	OriginNode       string
}

// InsertNotification stores a notification. Inserting one that exists is a
// no-op: the ID is derived from the event and the recipient.
//
// About one insert in sixteen (those whose ID ends in 0, a function of the
// event and the recipient: the same live and in a rebuild) then prunes the
// recipient's notifications down to the newest agenda.MaxNotificationsKept,
// so that a user keeps at most that many and the few since the last prune.
// Pruning at every insert would walk that many index entries each time.
func (t *Tx) InsertNotification(n NotificationRecord) error {
	err := t.sideExec(`INSERT INTO notifications (id, user_id, type, payload, created_at, read_at, position, version,
		origin_node) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		n.ID, n.UserID, n.Type, string(n.Payload), n.At.UnixNano(), n.Position, n.Version, n.OriginNode)
	if err != nil {
		return fmt.Errorf("insert notification %s: %w", n.ID, err)
	}
	if strings.HasSuffix(n.ID, "0") {
		if err := t.sideExec(pruneNotificationsQuery, n.UserID, agenda.MaxNotificationsKept-1); err != nil {
			return fmt.Errorf("prune notifications of %s: %w", n.UserID, err)
		}
	}
	t.noteForFeed(n)
	return nil
}

// pruneNotificationsQuery deletes user ?1's notifications older than their
// (?2+1)th newest, through notifications_by_user. An event notifies a user
// once at most, so positions are distinct within a user's notifications.
// A notification pruned is gone for marking read too: its commands find
// nothing (404), and one decided before the prune changes nothing.
const pruneNotificationsQuery = `DELETE FROM notifications WHERE user_id = ?1 AND position < (
	SELECT position FROM notifications WHERE user_id = ?1 ORDER BY position DESC LIMIT 1 OFFSET ?2)`

// MarkNotificationRead marks one notification of userID read, if unread.
func (t *Tx) MarkNotificationRead(userID, id string, at time.Time, origin string) error {
	err := t.sideExec(`UPDATE notifications SET read_at = ?, version = version + 1, origin_node = ?
		WHERE id = ? AND user_id = ? AND read_at IS NULL`, at.UnixNano(), origin, id, userID)
	if err != nil {
		return fmt.Errorf("mark notification %s read: %w", id, err)
	}
	return nil
}

// markNotificationsReadQuery marks read, at ?1 on node ?2, user ?3's unread
// notifications up to position ?4, found through notifications_unread.
const markNotificationsReadQuery = `UPDATE notifications SET read_at = ?1, version = version + 1, origin_node = ?2
	WHERE user_id = ?3 AND position <= ?4 AND read_at IS NULL`

// MarkNotificationsRead marks read every unread notification of userID
// derived from an event at or before position.
func (t *Tx) MarkNotificationsRead(userID string, upTo int64, at time.Time, origin string) error {
	err := t.sideExec(markNotificationsReadQuery, at.UnixNano(), origin, userID, upTo)
	if err != nil {
		return fmt.Errorf("mark notifications of %s read: %w", userID, err)
	}
	return nil
}

// SetNotificationStreamVersion records the version of a user's
// notification stream.
func (t *Tx) SetNotificationStreamVersion(userID string, version int64, origin string) error {
	err := t.sideExec(`INSERT INTO notification_streams (user_id, version, origin_node) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET version = excluded.version, origin_node = excluded.origin_node`,
		userID, version, origin)
	if err != nil {
		return fmt.Errorf("set notification stream version of %s: %w", userID, err)
	}
	return nil
}
