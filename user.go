package agenda

import "time"

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
}

// UserSummary is what other people see of a user.
type UserSummary struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}
