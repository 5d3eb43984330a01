package http

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/agendahq/agenda"
)

// Tokens issues and verifies the JWTs clients authenticate with: HS256
// only (the algorithm is pinned, so "none" and key-confusion tricks fail),
// with issuer and expiry required.
type Tokens struct {
	Secret []byte
	TTL    time.Duration
	Now    func() time.Time
}

const tokenIssuer = "agenda"

type claims struct {
	Username string `json:"username"`
	jwt.RegisteredClaims
}

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Issue returns a signed token for a user and its expiry.
func (t *Tokens) Issue(userID, username string) (string, time.Time, error) {
	now := t.now().UTC().Truncate(time.Second)
	ttl := t.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	exp := now.Add(ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Username: username,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(t.Secret)
	return s, exp, err
}

// Verify checks a token and returns the user ID it was issued to. Every
// failure is EUNAUTHORIZED; the reason is kept vague on purpose.
func (t *Tokens) Verify(token string) (string, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return "", agenda.Errorf(agenda.EUNAUTHORIZED, "token expired; log in again")
		}
		return "", agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	}
	if c.Subject == "" {
		return "", agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	}
	return c.Subject, nil
}
