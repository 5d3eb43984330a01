package http

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/agendahq/agenda"
)

// Tokens issues and verifies the JWTs clients authenticate with: HS256
// only (the algorithm is pinned, so "none" and key-confusion tricks fail),
// with issuer and expiry required. A signature proves only that this
// cluster issued the token; whether it still holds (the user exists, has
// not changed their password since, has not logged it out) is checked
// against the read model on every request (Server.requireAuth).
type Tokens struct {
	Secret []byte
	TTL    time.Duration
	Now    func() time.Time

	verified verifiedTokens
}

// TokenLeeway is the clock skew allowed on a token's times. A token
// logged out stays refused that long past its expiry: readmodel keeps its
// revocation longer (RevocationGrace; cmd/agenda checks the two agree).
const TokenLeeway = 5 * time.Second

// verifiedTokens remembers tokens whose signature and claims checked out,
// so that a client's every request does not pay for decoding and checking
// the same token again (it was a tenth of an authenticated write's CPU).
// Only the time checks depend on when the token is used; a hit repeats
// exactly those, as the JWT library does them. An entry is valid for the
// secret it was verified with only.
type verifiedTokens struct {
	mu      sync.Mutex
	secret  []byte
	entries map[string]verifiedToken
}

// maxVerifiedTokens bounds the memory verifiedTokens takes (a few MB); when
// full it starts over, which costs one full verification per live token.
const maxVerifiedTokens = 8192

type verifiedToken struct {
	claims Claims
	// exp, nbf and iat are the token's times (zero if absent).
	exp, nbf, iat time.Time
}

func (v *verifiedTokens) get(secret []byte, token string, now time.Time) (Claims, bool) {
	v.mu.Lock()
	e, ok := v.entries[token]
	ok = ok && bytes.Equal(v.secret, secret)
	v.mu.Unlock()
	// The checks of jwt's Validator with WithExpirationRequired,
	// WithIssuedAt and WithLeeway: anything borderline goes to the full
	// verification, which gives the precise error.
	if !ok || !now.Before(e.exp.Add(TokenLeeway)) || now.Before(e.nbf.Add(-TokenLeeway)) || now.Before(e.iat.Add(-TokenLeeway)) {
		return Claims{}, false
	}
	return e.claims, true
}

func (v *verifiedTokens) put(secret []byte, token string, e verifiedToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil || len(v.entries) >= maxVerifiedTokens || !bytes.Equal(v.secret, secret) {
		v.entries = make(map[string]verifiedToken)
		v.secret = bytes.Clone(secret)
	}
	v.entries[token] = e
}

const tokenIssuer = "agenda"

type claims struct {
	Username string `json:"username"`
	// Epoch is the user's token epoch when the token was issued: a password
	// change moves the epoch and so ends every older token. Tokens issued
	// before epochs existed carry none, which reads as epoch 0.
	Epoch int64 `json:"epoch"`
	// Position is the read-model position the login was decided at: a node
	// that does not know the user (or the epoch) yet waits for it before
	// refusing the token.
	Position int64 `json:"pos,omitempty"`
	jwt.RegisteredClaims
}

// Subject is who a token is issued to.
type Subject struct {
	UserID, Username string
	// Epoch is the user's current token epoch.
	Epoch int64
	// Position is the read model's position when the login was decided.
	Position int64
}

// Claims is what a verified token says.
type Claims struct {
	UserID string
	// TokenID identifies the token for logout: its jti claim, or for a token
	// issued before tokens had one, the hex SHA-256 of the token itself.
	TokenID   string
	Epoch     int64
	Position  int64
	ExpiresAt time.Time
}

// usableUntil is when the token stops being accepted: its expiry plus
// TokenLeeway, as Verify accepts it. A live stream ends then, not at the
// expiry itself (an outside review's stream opened with a token 2 s past
// its expiry was upgraded, then closed at once, while every request with
// it was answered).
func (c Claims) usableUntil() time.Time { return c.ExpiresAt.Add(TokenLeeway) }

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Issue returns a signed token for a user and its expiry. Every token gets
// an ID of its own (jti), so that logging one out leaves the others.
func (t *Tokens) Issue(sub Subject) (string, time.Time, error) {
	now := t.now().UTC().Truncate(time.Second)
	ttl := t.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	exp := now.Add(ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		Username: sub.Username,
		Epoch:    sub.Epoch,
		Position: sub.Position,
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        uuid.NewString(),
			Issuer:    tokenIssuer,
			Subject:   sub.UserID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	s, err := tok.SignedString(t.Secret)
	return s, exp, err
}

// Verify checks a token's signature, issuer and times and returns its
// claims. Every failure is EUNAUTHORIZED; the reason is kept vague on
// purpose.
func (t *Tokens) Verify(token string) (Claims, error) {
	// Only a text that passed the checks below is remembered, so a hit
	// needs none of them again.
	if c, ok := t.verified.get(t.Secret, token, t.now()); ok {
		return c, nil
	}
	// A token is three base64url parts and nothing else. Go's decoder skips
	// CR and LF even when strict, so without this a token without an ID
	// (known by its text's hash) would verify under other texts, and a
	// logout of it could be undone by one (a review found it through
	// ?access_token=…%0A on the stream).
	if strings.ContainsFunc(token, func(r rune) bool {
		return !('A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return Claims{}, agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(TokenLeeway),
		jwt.WithTimeFunc(t.now),
		// One text per token: a token without an ID is known by its
		// text's hash, and lax base64 would let other texts (the unused
		// bits of the last character changed) carry the same signature.
		jwt.WithStrictDecoding(),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return Claims{}, agenda.Errorf(agenda.EUNAUTHORIZED, "token expired; log in again")
		}
		return Claims{}, agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	}
	if c.Subject == "" || c.Epoch < 0 || c.Position < 0 || len(c.ID) > 64 {
		return Claims{}, agenda.Errorf(agenda.EUNAUTHORIZED, "invalid token")
	}
	id := c.ID
	if id == "" {
		sum := sha256.Sum256([]byte(token))
		id = hex.EncodeToString(sum[:])
	}
	out := Claims{UserID: c.Subject, TokenID: id, Epoch: c.Epoch, Position: c.Position,
		ExpiresAt: c.ExpiresAt.Time}
	e := verifiedToken{claims: out, exp: c.ExpiresAt.Time}
	if c.NotBefore != nil {
		e.nbf = c.NotBefore.Time
	}
	if c.IssuedAt != nil {
		e.iat = c.IssuedAt.Time
	}
	t.verified.put(t.Secret, token, e)
	return out, nil
}
