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

const selectUser = `SELECT id, username, display_name, email, password_hash, token_epoch, tokens_version, created_at,
	version, origin_node FROM users`

func scanUser(r interface{ Scan(...any) error }) (agenda.User, error) {
	var u agenda.User
	var created int64
	err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Email, &u.PasswordHash, &u.TokenEpoch, &u.TokensVersion,
		&created, &u.Version, &u.OriginNode)
	u.CreatedAt = time.Unix(0, created).UTC()
	return u, err
}

// UserByID returns a user, cached until the users projection next writes
// (see usersCache). ENOTFOUND if there is none.
func (db *DB) UserByID(ctx context.Context, id string) (agenda.User, error) {
	if u, ok := db.users.user(id); ok {
		return u, nil
	}
	gen := db.users.current()
	u, err := scanUser(db.queryRow(ctx, selectUser+" WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, agenda.Errorf(agenda.ENOTFOUND, "user not found")
	} else if err != nil {
		return u, fmt.Errorf("read user %s: %w", id, err)
	}
	db.users.putUser(gen, u)
	return u, nil
}

// UserByUsername returns the user username stands for
// (agenda.FoldUsername: "Ana" is ana; a walk-through's login as "Ana" was
// told "wrong username or password"). ENOTFOUND if there is none.
func (db *DB) UserByUsername(ctx context.Context, username string) (agenda.User, error) {
	u, err := scanUser(db.queryRow(ctx, selectUser+" WHERE username = ?", agenda.FoldUsername(username)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, agenda.Errorf(agenda.ENOTFOUND, "user not found")
	} else if err != nil {
		return u, fmt.Errorf("read user %q: %w", username, err)
	}
	return u, nil
}

// TokenState returns what the read model knows of userID's login tokens:
// their epoch, and whether the token tokenID was revoked. One indexed
// statement, as it runs on every authenticated request, and cached until
// the users projection next writes (see usersCache). ENOTFOUND if there is
// no such user.
func (db *DB) TokenState(ctx context.Context, userID, tokenID string) (agenda.TokenState, error) {
	if s, ok := db.users.token(userID, tokenID); ok {
		return s, nil
	}
	gen := db.users.current()
	var s agenda.TokenState
	err := db.queryRow(ctx, `SELECT token_epoch,
		EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = ?2 AND user_id = ?1)
		FROM users WHERE id = ?1`, userID, tokenID).Scan(&s.Epoch, &s.Revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return s, agenda.Errorf(agenda.ENOTFOUND, "user not found")
	} else if err != nil {
		return s, fmt.Errorf("read token state of %s: %w", userID, err)
	}
	db.users.putToken(userID, tokenID, gen, s)
	return s, nil
}

// searchUsersQuery selects up to ?3 users whose username is in [?1, ?2) or
// whose folded display name is in [?4, ?5), by username. Ranges rather
// than LIKE: SQLite seeks both indexes (a MULTI-INDEX OR) and sorts what
// matches, where a LIKE walked every user in username order to find a rare
// prefix.
const searchUsersQuery = `SELECT id, username, display_name FROM users
	WHERE (username >= ?1 AND username < ?2) OR (display_fold >= ?4 AND display_fold < ?5)
	ORDER BY username LIMIT ?3`

// SearchUsers returns up to limit users whose username or display name
// starts with prefix (case-insensitive), by username. The prefix is folded
// once for each: as a username is looked up (agenda.FoldUsername: A–Z
// only, so that a look-alike such as the Kelvin sign suggests no username
// it does not spell), and as display names are stored folded (any letter:
// "Å" finds "Ångström").
func (db *DB) SearchUsers(ctx context.Context, prefix string, limit int) ([]agenda.UserSummary, error) {
	query, args := `SELECT id, username, display_name FROM users ORDER BY username LIMIT ?1`, []any{limit}
	if prefix != "" { // every user starts with ""
		// Neither fold empties a prefix, and both return valid UTF-8,
		// which holds no 0xff byte: each range has an end.
		user, display := agenda.FoldUsername(prefix), foldDisplay(prefix)
		userEnd, _ := prefixEnd(user)
		displayEnd, _ := prefixEnd(display)
		query, args = searchUsersQuery, []any{user, userEnd, limit, display, displayEnd}
	}
	rows, err := db.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search users: %w", err)
	}
	defer rows.Close()
	out := []agenda.UserSummary{}
	for rows.Next() {
		var u agenda.UserSummary
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// foldDisplay is a display name as stored for search (display_fold), and a
// search prefix as compared with it.
func foldDisplay(name string) string { return strings.ToLower(name) }

// prefixEnd returns the least string greater than every string that
// starts with p, in SQLite's byte order (BINARY), or false if there is none.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// InsertUser adds a newly registered user.
func (t *Tx) InsertUser(u agenda.User) error {
	_, err := t.exec(`INSERT INTO users (id, username, display_name, display_fold, email, password_hash, created_at,
		updated_at, version, origin_node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Username, u.DisplayName, foldDisplay(u.DisplayName), u.Email, u.PasswordHash, u.CreatedAt.UnixNano(), u.CreatedAt.UnixNano(),
		u.Version, u.OriginNode)
	if err != nil {
		return fmt.Errorf("insert user %s: %w", u.ID, err)
	}
	return nil
}

// UpdateUserProfile changes a user's display name and email.
func (t *Tx) UpdateUserProfile(id, displayName, email string, at time.Time, version int64, origin string) error {
	return t.execOne("update profile of "+id, `UPDATE users SET display_name = ?, display_fold = ?, email = ?,
		updated_at = ?, version = ?, origin_node = ? WHERE id = ?`,
		displayName, foldDisplay(displayName), email, at.UnixNano(), version, origin, id)
}

// UpdateUserPassword changes a user's password hash and moves their token
// epoch, which ends every login token issued before.
func (t *Tx) UpdateUserPassword(id, hash string, at time.Time, version int64, origin string) error {
	return t.execOne("update password of "+id, `UPDATE users SET password_hash = ?, token_epoch = token_epoch + 1,
		updated_at = ?, version = ?, origin_node = ? WHERE id = ?`, hash, at.UnixNano(), version, origin, id)
}

// RevocationGrace is how long past its expiry a token's revocation is
// kept: longer than the clock-skew leeway tokens are still accepted with
// after their expiry (5 s), with room for the skew between the node that
// logs a token out and the nodes that verify it.
const RevocationGrace = time.Minute

// RevokeToken records that a user logged a token out; tokensVersion is the
// version of their token stream. Revocations of tokens that expired more
// than RevocationGrace before at are forgotten (such a token is refused
// anyway); one still within the leeway must stay revoked.
func (t *Tx) RevokeToken(userID, tokenID string, expiresAt, at time.Time, tokensVersion int64) error {
	if _, err := t.exec(`DELETE FROM revoked_tokens WHERE expires_at < ?`, at.Add(-RevocationGrace).UnixNano()); err != nil {
		return fmt.Errorf("forget expired revocations: %w", err)
	}
	if _, err := t.exec(`INSERT INTO revoked_tokens (token_id, user_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (token_id) DO NOTHING`, tokenID, userID, expiresAt.UnixNano()); err != nil {
		return fmt.Errorf("revoke token of %s: %w", userID, err)
	}
	return t.execOne("note token stream of "+userID, `UPDATE users SET tokens_version = ? WHERE id = ?`, tokensVersion, userID)
}
