package http

import (
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
	tok, exp, err := tokens.Issue("user-1", "ana")
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
			sub, err := tokens.Verify(tok)
			if err != nil || sub != "user-1" {
				t.Errorf("Verify = %q, %v; want user-1", sub, err)
			}
		})
	}

	t.Run("default TTL is a day", func(t *testing.T) {
		tokens, c := newTestTokens()
		tokens.TTL = 0
		_, exp, err := tokens.Issue("user-1", "ana")
		if err != nil || !exp.Equal(c.t.Add(24*time.Hour)) {
			t.Errorf("expiry = %s, %v; want %s", exp, err, c.t.Add(24*time.Hour))
		}
	})
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
			sub, err := tokens.Verify(tc.token(t))
			if sub != "" {
				t.Errorf("subject = %q, want none", sub)
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
