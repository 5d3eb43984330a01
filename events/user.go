package events

import "time"

// UserStream is the stream of one user aggregate; its version is the
// user's resource version.
func UserStream(userID string) string { return "user-" + userID }

// UsernameStream is the reservation stream of a username: registering
// expects it at version 0 and writes a UsernameClaimed to it, so two
// concurrent registrations of one name cannot both commit.
func UsernameStream(username string) string { return "username-" + username }

// TokenStream is the stream of the login tokens a user revoked by logging
// out. It is apart from the user stream so that logging out does not change
// the user's resource version.
func TokenStream(userID string) string { return "tokens-" + userID }

// UserTokenRevoked ends one login token of a user (logout) before it
// expires. TokenID is the token's "jti" claim (or, for a token without
// one, the hex SHA-256 of the token); ExpiresAt is the token's own expiry,
// after which the revocation need not be remembered.
type UserTokenRevoked struct {
	UserID    string    `json:"user_id"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UserRegistered is the first event of a user stream.
type UserRegistered struct {
	UserID       string `json:"user_id"`
	Username     string `json:"username"`
	DisplayName  string `json:"display_name"`
	Email        string `json:"email"`
	PasswordHash string `json:"password_hash"`
}

// UsernameClaimed reserves a username for a user.
type UsernameClaimed struct {
	Username string `json:"username"`
	UserID   string `json:"user_id"`
}

// UserProfileChanged carries the new profile fields of a user.
type UserProfileChanged struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"display_name"`
	Email       string `json:"email"`
}

// UserPasswordChanged carries a new password hash. It also ends every
// login token issued before it: the user's token epoch moves.
type UserPasswordChanged struct {
	UserID       string `json:"user_id"`
	PasswordHash string `json:"password_hash"`
}

// EventType implements Event; the names are the registered type names.
func (UserRegistered) EventType() string      { return "user.registered" }
func (UsernameClaimed) EventType() string     { return "username.claimed" }
func (UserProfileChanged) EventType() string  { return "user.profile_changed" }
func (UserPasswordChanged) EventType() string { return "user.password_changed" }
func (UserTokenRevoked) EventType() string    { return "user.token_revoked" }

func init() {
	register[UserRegistered]("user.registered", 1)
	register[UsernameClaimed]("username.claimed", 1)
	register[UserProfileChanged]("user.profile_changed", 1)
	register[UserPasswordChanged]("user.password_changed", 1)
	register[UserTokenRevoked]("user.token_revoked", 1)
}
