package http

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agendahq/agenda"
)

// clock is a settable time source for Tokens.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestTokens() (*Tokens, *clock) {
	c := &clock{t: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)}
	return &Tokens{Secret: testSecret, TTL: time.Hour, Now: c.now}, c
}

func TestTokenRoundTrip(t *testing.T) {
	tokens, c := newTestTokens()
	tok, exp, err := tokens.Issue(Subject{UserID: "user-1", Username: "ana", Epoch: 3, Position: 42})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if want := c.t.Add(time.Hour); !exp.Equal(want) {
		t.Errorf("expiry = %s, want %s", exp, want)
	}
	for _, tc := range []struct {
		name    string
		advance time.Duration
	}{
		{name: "right away", advance: 0},
		{name: "just before expiry", advance: time.Hour - time.Second},
		{name: "within the leeway after expiry", advance: time.Hour + 3*time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tokens, c := newTestTokens()
			c.t = c.t.Add(tc.advance)
			got, err := tokens.Verify(tok)
			if err != nil || got.UserID != "user-1" || got.Epoch != 3 || got.Position != 42 || got.TokenID == "" || !got.ExpiresAt.Equal(exp) {
				t.Errorf("Verify = %+v, %v; want user-1 at epoch 3, position 42, with an ID, expiring %s", got, err, exp)
			}
		})
	}

	t.Run("every token has an ID of its own", func(t *testing.T) {
		tokens, _ := newTestTokens() // the same clock: the same second
		a, _, _ := tokens.Issue(Subject{UserID: "user-1", Username: "ana"})
		b, _, _ := tokens.Issue(Subject{UserID: "user-1", Username: "ana"})
		ca, _ := tokens.Verify(a)
		cb, _ := tokens.Verify(b)
		if a == b || ca.TokenID == cb.TokenID {
			t.Errorf("two logins in one second got the same token or ID: %q", ca.TokenID)
		}
	})

	t.Run("default TTL is a day", func(t *testing.T) {
		tokens, c := newTestTokens()
		tokens.TTL = 0
		_, exp, err := tokens.Issue(Subject{UserID: "user-1", Username: "ana", Epoch: 3, Position: 42})
		if err != nil || !exp.Equal(c.t.Add(24*time.Hour)) {
			t.Errorf("expiry = %s, %v; want %s", exp, err, c.t.Add(24*time.Hour))
		}
	})
}

// A token issued before tokens carried an ID and an epoch still verifies:
// as epoch 0, identified by its hash (so it can be logged out).
func TestTokenWithoutIDOrEpoch(t *testing.T) {
	tokens, c := newTestTokens()
	legacy, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "agenda", "sub": "user-1", "username": "ana",
		"iat": c.t.Unix(), "nbf": c.t.Unix(), "exp": c.t.Add(time.Hour).Unix()}).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokens.Verify(legacy)
	sum := sha256.Sum256([]byte(legacy))
	if err != nil || got.UserID != "user-1" || got.Epoch != 0 || got.TokenID != hex.EncodeToString(sum[:]) {
		t.Errorf("Verify(legacy) = %+v, %v; want user-1, epoch 0, ID the token's SHA-256", got, err)
	}
	// Such a token is known by its text, so no other text may carry the
	// same signature: the unused bits of the signature's last base64url
	// character must be zero (an attacker's review undid a logout by
	// changing them).
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, ch := range alphabet {
		other := legacy[:len(legacy)-1] + string(ch)
		if other == legacy {
			continue
		}
		if _, err := tokens.Verify(other); err == nil {
			t.Errorf("Verify accepted the token with its last character changed to %q", ch)
		}
	}
	// Nor with characters base64 decoders skip (a review: CR and LF, sent
	// through ?access_token=), anywhere.
	for _, extra := range []string{"\n", "\r\n", " ", "=", "\t"} {
		for _, other := range []string{legacy + extra, legacy[:len(legacy)-5] + extra + legacy[len(legacy)-5:], extra + legacy} {
			if _, err := tokens.Verify(other); err == nil {
				t.Errorf("Verify accepted the token with %q added: %q", extra, other)
			}
		}
	}
}

func TestTokenRefused(t *testing.T) {
	issued := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "agenda", "sub": "user-1", "username": "ana",
			"iat": issued.Unix(), "nbf": issued.Unix(), "exp": issued.Add(time.Hour).Unix()}
	}
	sign := func(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
		t.Helper()
		s, err := jwt.NewWithClaims(m, claims).SignedString(key)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return s
	}
	without := func(key string) jwt.MapClaims { c := valid(); delete(c, key); return c }
	with := func(key string, v any) jwt.MapClaims { c := valid(); c[key] = v; return c }

	tests := []struct {
		name    string
		token   func(t *testing.T) string
		advance time.Duration
		message string // empty: "invalid token"
	}{
		{name: "expired", advance: time.Hour + 10*time.Second, message: "token expired; log in again",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, valid()) }},
		{name: "signed with another key",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef"), valid())
			}},
		{name: "alg none",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())
			}},
		{name: "HS512 with the right key",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS512, testSecret, valid()) }},
		{name: "HS384 with the right key",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS384, testSecret, valid()) }},
		{name: "missing exp",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, without("exp")) }},
		{name: "wrong issuer",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, with("iss", "evil")) }},
		{name: "missing issuer",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, without("iss")) }},
		{name: "negative epoch",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, with("epoch", -1)) }},
		{name: "missing subject",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, without("sub")) }},
		{name: "not yet valid",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, testSecret, with("nbf", issued.Add(time.Minute).Unix()))
			}},
		{name: "issued in the future",
			token: func(t *testing.T) string {
				return sign(t, jwt.SigningMethodHS256, testSecret, with("iat", issued.Add(time.Minute).Unix()))
			}},
		{name: "exp not a number",
			token: func(t *testing.T) string { return sign(t, jwt.SigningMethodHS256, testSecret, with("exp", "tomorrow")) }},
		{name: "payload altered after signing",
			token: func(t *testing.T) string {
				parts := strings.Split(sign(t, jwt.SigningMethodHS256, testSecret, valid()), ".")
				other := strings.Split(sign(t, jwt.SigningMethodHS256, []byte("x"), with("sub", "admin")), ".")
				return parts[0] + "." + other[1] + "." + parts[2]
			}},
		{name: "empty", token: func(*testing.T) string { return "" }},
		{name: "garbage", token: func(*testing.T) string { return "not.a.token" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tokens, c := newTestTokens()
			c.t = issued.Add(tc.advance)
			got, err := tokens.Verify(tc.token(t))
			if got != (Claims{}) {
				t.Errorf("claims = %+v, want none", got)
			}
			if code := agenda.ErrorCode(err); code != agenda.EUNAUTHORIZED {
				t.Fatalf("code = %q (%v), want unauthorized", code, err)
			}
			want := tc.message
			if want == "" {
				want = "invalid token"
			}
			if got := agenda.ErrorMessage(err); got != want {
				t.Errorf("message = %q, want %q", got, want)
			}
		})
	}
}

// TestVerifiedTokensAgreeWithFullVerification checks that a token verified
// before (and remembered) is accepted or refused at any later instant
// exactly as a first verification would, and not under another secret.
func TestVerifiedTokensAgreeWithFullVerification(t *testing.T) {
	tokens, c := newTestTokens()
	issued := c.t
	tok, _, err := tokens.Issue(Subject{UserID: "user-1", Username: "ana", Epoch: 3, Position: 42})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	if _, err := tokens.Verify(tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	for _, at := range []time.Duration{
		-time.Hour, -6 * time.Second, -5*time.Second - time.Nanosecond, -5 * time.Second, -time.Second, 0,
		time.Minute, time.Hour - time.Nanosecond, time.Hour, time.Hour + 5*time.Second - time.Nanosecond,
		time.Hour + 5*time.Second, time.Hour + 6*time.Second, 48 * time.Hour,
	} {
		c.t = issued.Add(at)
		got, gotErr := tokens.Verify(tok)
		fresh, _ := newTestTokens()
		fresh.Now = c.now
		want, wantErr := fresh.Verify(tok)
		if got != want || agenda.ErrorCode(gotErr) != agenda.ErrorCode(wantErr) || agenda.ErrorMessage(gotErr) != agenda.ErrorMessage(wantErr) {
			t.Errorf("at issue %+v: remembered gives %+v, %v; a first verification %+v, %v", at, got, gotErr, want, wantErr)
		}
	}

	c.t = issued
	tokens.Secret = []byte("another secret, another cluster!")
	if _, err := tokens.Verify(tok); agenda.ErrorCode(err) != agenda.EUNAUTHORIZED {
		t.Errorf("under another secret: got %v, want unauthorized", err)
	}
}
