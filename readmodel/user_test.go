package readmodel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

func TestSearchUsers(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		for _, u := range []agenda.User{
			user("1", "ana", "Ana Lopez"),
			user("2", "anabel", "Anabel"),
			user("3", "bob", "Bob Anders"),
			user("4", "a_b", "Under Score"),
			user("5", "axb", "Ex Be"),
			user("6", "pct", "%Percent"),
			user("7", "zed", "Ångström Åsa"),
			user("8", "back", `\slash`),
			user("9", "kim", "Lee Park"),
		} {
			if err := tx.InsertUser(u); err != nil {
				return err
			}
		}
		return nil
	})

	tests := []struct {
		name   string
		prefix string
		limit  int
		want   []string // usernames, in order
	}{
		{name: "username prefix", prefix: "ana", limit: 10, want: []string{"ana", "anabel"}},
		{name: "username prefix in another case", prefix: "ANA", limit: 10, want: []string{"ana", "anabel"}},
		{name: "display name prefix, case-insensitive", prefix: "bob a", limit: 10, want: []string{"bob"}},
		{name: "display name prefix matches from the start only", prefix: "lopez", limit: 10, want: []string{}},
		{name: "underscore is literal, not any character", prefix: "a_", limit: 10, want: []string{"a_b"}},
		{name: "percent is literal, not any string", prefix: "%", limit: 10, want: []string{"pct"}},
		{name: "percent inside the prefix is literal", prefix: "a%", limit: 10, want: []string{}},
		{name: "backslash is literal", prefix: `\s`, limit: 10, want: []string{"back"}},
		// The Kelvin sign lower-cases to k under Unicode's rules, but
		// spells no username (agenda.FoldUsername).
		{name: "a look-alike letter finds no username", prefix: "\u212Aim", limit: 10, want: []string{}},
		{name: "a capital finds the username it spells", prefix: "KI", limit: 10, want: []string{"kim"}},
		{name: "empty prefix lists everyone up to the limit", prefix: "", limit: 3, want: []string{"a_b", "ana", "anabel"}},
		{name: "limit applies after ordering by username", prefix: "a", limit: 2, want: []string{"a_b", "ana"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.SearchUsers(ctx, tc.prefix, tc.limit)
			if err != nil {
				t.Fatalf("SearchUsers(%q): %v", tc.prefix, err)
			}
			if got == nil {
				t.Fatalf("SearchUsers(%q) = nil, want a non-nil list", tc.prefix)
			}
			names := ids(got, func(u agenda.UserSummary) string { return u.Username })
			if !equalStrings(names, tc.want) {
				t.Errorf("SearchUsers(%q, %d) = %v, want %v", tc.prefix, tc.limit, names, tc.want)
			}
		})
	}

	t.Run("non-ASCII display names", func(t *testing.T) {
		for _, prefix := range []string{"Ångström", "ångström", "ÅNGSTRÖM"} {
			got, err := db.SearchUsers(ctx, prefix, 10)
			if err != nil {
				t.Fatalf("SearchUsers(%q): %v", prefix, err)
			}
			if len(got) != 1 || got[0].Username != "zed" {
				t.Errorf("SearchUsers(%q) = %v, want [zed]: the prefix and the stored display name must be folded alike",
					prefix, got)
			}
		}
	})

	t.Run("summaries carry id and display name", func(t *testing.T) {
		got, err := db.SearchUsers(ctx, "bob", 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("SearchUsers(bob) = %v, %v", got, err)
		}
		if want := (agenda.UserSummary{ID: "3", Username: "bob", DisplayName: "Bob Anders"}); got[0] != want {
			t.Errorf("summary = %+v, want %+v", got[0], want)
		}
	})
}

func TestUserLookups(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		if err := tx.InsertUser(user("u1", "ana", "Ana")); err != nil {
			return err
		}
		if err := tx.InsertUser(user("u2", "kim", "Kim")); err != nil {
			return err
		}
		return tx.UpdateUserProfile("u1", "Ana B.", "b@example.com", at.Add(1e9), 2, "node-c")
	})
	u, err := db.UserByUsername(ctx, "ana")
	if err != nil {
		t.Fatalf("UserByUsername: %v", err)
	}
	// Usernames are lower case: a lookup folds the ASCII letters it is
	// given, and only those.
	for name, id := range map[string]string{"Ana": "u1", "ANA": "u1", "KiM": "u2"} {
		if got, err := db.UserByUsername(ctx, name); err != nil || got.ID != id {
			t.Errorf("UserByUsername(%q) = %+v, %v; want %s", name, got, err, id)
		}
	}
	if u.ID != "u1" || u.DisplayName != "Ana B." || u.Email != "b@example.com" || u.Version != 2 || u.OriginNode != "node-c" || !u.CreatedAt.Equal(at) {
		t.Errorf("user = %+v, want the profile change applied over the registration", u)
	}
	for _, tc := range []struct {
		name string
		get  func() error
	}{
		{name: "unknown id", get: func() error { _, err := db.UserByID(ctx, "nope"); return err }},
		{name: "unknown username", get: func() error { _, err := db.UserByUsername(ctx, "nope"); return err }},
		// Look-alikes that Go's or ICU's lower-casing turns into ASCII
		// letters (U+212A Kelvin sign into k, U+0130 into i): no username
		// holds them.
		{name: "a look-alike capital", get: func() error { _, err := db.UserByUsername(ctx, "\u212Aim"); return err }},
		{name: "a dotted capital I", get: func() error { _, err := db.UserByUsername(ctx, "k\u0130m"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := agenda.ErrorCode(tc.get()); code != agenda.ENOTFOUND {
				t.Errorf("code = %q, want not_found", code)
			}
		})
	}
}

// TokenState and UserByID are cached (users_cache.go); whatever rewrites
// the users projection's tables must make them read them again.
func TestCachedUsersFollowEveryChangeOfTheUsersTables(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	insertUsers(t, db, user("u1", "ana", "Ana"))
	if _, err := db.TokenState(ctx, "u1", "t1"); err != nil {
		t.Fatal(err)
	}
	// An empty batch of the users projection, and a planning batch, leave it.
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error { return nil })
	mustApply(t, db, readmodel.ProjectionPlanning, func(tx *readmodel.Tx) error { return nil })
	if s, err := db.TokenState(ctx, "u1", "t1"); err != nil || s != (agenda.TokenState{}) {
		t.Fatalf("TokenState = %+v, %v; want epoch 0, not revoked", s, err)
	}
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.RevokeToken("u1", "t1", at.Add(time.Hour), at, 1)
	})
	if s, _ := db.TokenState(ctx, "u1", "t1"); !s.Revoked {
		t.Fatalf("TokenState after a logout = %+v, want revoked", s)
	}
	if u, err := db.UserByID(ctx, "u1"); err != nil || u.DisplayName != "Ana" {
		t.Fatalf("UserByID = %+v, %v; want Ana", u, err)
	}
	mustApply(t, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		return tx.UpdateUserProfile("u1", "Ana B", "ana@example.org", at, 3, "n")
	})
	if u, _ := db.UserByID(ctx, "u1"); u.DisplayName != "Ana B" || u.Version != 3 {
		t.Fatalf("UserByID after a profile change = %+v, want Ana B at version 3", u)
	}
	if err := db.Reset(ctx, readmodel.ProjectionUsers); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TokenState(ctx, "u1", "t1"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("TokenState after a reset: %v, want not found", err)
	}
	if _, err := db.UserByID(ctx, "u1"); agenda.ErrorCode(err) != agenda.ENOTFOUND {
		t.Fatalf("UserByID after a reset: %v, want not found", err)
	}
}

// BenchmarkSearchUsers measures a type-ahead search whose prefix matches 3
// of 100,000 users. It should follow the matches, not the users.
func BenchmarkSearchUsers(b *testing.B) {
	const users = 100_000
	ctx := context.Background()
	db, _ := mustOpenDB(b)
	mustApply(b, db, readmodel.ProjectionUsers, func(tx *readmodel.Tx) error {
		for i := range users {
			if err := tx.InsertUser(user(fmt.Sprintf("u%06d", i), fmt.Sprintf("user%06d", i), fmt.Sprintf("User %d", i))); err != nil {
				return err
			}
		}
		for i, name := range []string{"zoe", "zora", "zorro"} {
			if err := tx.InsertUser(user(fmt.Sprintf("z%d", i), name, "Z "+name)); err != nil {
				return err
			}
		}
		return nil
	})
	for b.Loop() {
		if got, err := db.SearchUsers(ctx, "zo", 20); err != nil || len(got) != 3 {
			b.Fatalf("SearchUsers(zo) = %d users, %v; want 3", len(got), err)
		}
	}
}

// TestPrefixEnd: the bound SearchUsers ends a prefix's range with is the
// least string after every string that starts with it, byte-wise.
func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		prefix, want string
		ok           bool
	}{
		{"ana", "anb", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"é", "ê", true}, // C3 A9 → C3 AA
		{"\xff", "", false},
		{"", "", false},
	} {
		if got, ok := readmodel.PrefixEnd(c.prefix); got != c.want || ok != c.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", c.prefix, got, ok, c.want, c.ok)
		}
	}
}
