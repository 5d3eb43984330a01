package agenda

import (
	"strings"
	"time"
)

// User is a registered user as clients see it (PasswordHash never leaves
// the server).
type User struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	DisplayName  string    `json:"display_name"`
	Email        string    `json:"email"`
	CreatedAt    time.Time `json:"created_at"`
	Version      int64     `json:"version"`
	OriginNode   string    `json:"origin_node"`
	PasswordHash string    `json:"-"`
	// TokenEpoch counts the user's password changes; a login token is
	// valid only with the epoch it was issued at.
	TokenEpoch int64 `json:"-"`
	// TokensVersion is the version of the user's token stream (logouts).
	TokensVersion int64 `json:"-"`
}

// FoldUsername is the username that name stands for. Usernames are lower
// case (a-z, 0-9, '_', '.', '-'), so "Ana" can only mean ana: a lookup by
// username (login, an invitation by username), the login limit's key and
// the audit's actor all go through it, so that case variants of one name
// are one user everywhere. Only ASCII letters fold: a look-alike (the
// Kelvin sign, a dotted capital I) stands for no username, as Go's or
// ICU's lower-casing would make it.
func FoldUsername(name string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// UserSummary is what other people see of a user.
type UserSummary struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// Summary is what other people see of u.
func (u User) Summary() UserSummary {
	return UserSummary{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName}
}

// TokenState is what the read model knows of a user's login tokens: a
// token is valid only while it carries the user's current epoch (every
// password change moves it) and has not been revoked by logging out.
type TokenState struct {
	// Epoch counts the user's password changes.
	Epoch int64
	// Revoked is true if the token asked about was logged out.
	Revoked bool
}
