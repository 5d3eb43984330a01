package events

// UserStream is the stream of one user aggregate; its version is the
// user's resource version.
func UserStream(userID string) string { return "user-" + userID }

// UsernameStream is the reservation stream of a username: registering
// expects it at version 0 and writes a UsernameClaimed to it, so two
// concurrent registrations of one name cannot both commit.
func UsernameStream(username string) string { return "username-" + username }

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

// UserPasswordChanged carries a new password hash.
type UserPasswordChanged struct {
	UserID       string `json:"user_id"`
	PasswordHash string `json:"password_hash"`
}

// EventType implements Event; the names are the registered type names.
func (UserRegistered) EventType() string      { return "user.registered" }
func (UsernameClaimed) EventType() string     { return "username.claimed" }
func (UserProfileChanged) EventType() string  { return "user.profile_changed" }
func (UserPasswordChanged) EventType() string { return "user.password_changed" }

func init() {
	register[UserRegistered]("user.registered", 1)
	register[UsernameClaimed]("username.claimed", 1)
	register[UserProfileChanged]("user.profile_changed", 1)
	register[UserPasswordChanged]("user.password_changed", 1)
}
