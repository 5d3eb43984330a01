package http

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agendahq/agenda"
)

// A device cookie marks a client that has logged in as a user before, so
// that strangers guessing that user's password cannot lock the user out.
//
// Failed logins are limited per username (Limits.LoginPerUser): that is
// what stops guessing spread over many addresses. But the limit is the
// same for everyone trying the name, so anyone who knows a username could
// keep its bucket empty with one wrong guess every few seconds, and the
// owner's right password was refused with the rest (found by an
// attacker's review). A login that brings a device cookie for the name it
// tries counts against a bucket of that device's instead, which strangers'
// guesses never touch; one that brings none shares the name's bucket, as
// before. This is OWASP's "device cookie" defence: only someone who once
// knew the password holds one, and it buys them no more guesses than any
// one client gets.
//
// The cookie is HttpOnly, SameSite=Strict (Secure over HTTPS, a trusted
// proxy's included) and sent to the login path only. Its value is the
// folded username, the account's token epoch, when it was issued and a
// random device ID, signed with HMAC-SHA256 under the JWT secret (with a
// label of its own, so that neither a token nor a cookie passes for the
// other); every node verifies it. The epoch ties it to the password it was
// earned with: a password change ends every device cookie of the account,
// as it ends its tokens, so that someone who once knew the password
// cannot keep a store of cookies, each with guesses of its own (a review
// found three buying 40 guesses a minute after the change). Clients that
// keep no cookies (curl, scripts) are limited as before.
const (
	deviceCookie = "agenda_device"
	deviceTTL    = 180 * 24 * time.Hour
	deviceLabel  = "agenda device cookie v1\x00"
	loginPath    = "/api/auth/login"
)

// knownDevice returns the device ID of the request's device cookie if it
// is genuine, not expired, and issued for username at the account's
// current token epoch.
func (s *Server) knownDevice(r *http.Request, username string) (string, bool) {
	c, err := r.Cookie(deviceCookie)
	if err != nil {
		return "", false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return "", false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.deviceMAC(payload)) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	// username, token epoch, issued (Unix seconds), device ID. A cookie
	// is issued only for an account's username ([a-z0-9_.-]), which holds
	// no "|".
	parts := strings.Split(string(raw), "|")
	if len(parts) != 4 || parts[0] != username || parts[3] == "" {
		return "", false
	}
	epoch, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", false
	}
	issued, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || time.Since(time.Unix(issued, 0)) > deviceTTL {
		return "", false
	}
	u, err := s.Queries.UserByUsername(r.Context(), username)
	if err != nil || u.TokenEpoch != epoch {
		return "", false
	}
	return parts[3], true
}

// rememberDevice gives the client a device cookie for the account u, as it
// is now, after a successful login (renewed with the same device ID if it
// brought one, else a new one) or a password change (which ended every
// other: the client that made it proved it knew the password).
func (s *Server) rememberDevice(w http.ResponseWriter, r *http.Request, u agenda.User, device string) {
	if device == "" {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return // no cookie: this client is limited like any other
		}
		device = hex.EncodeToString(b[:])
	}
	payload := base64.RawURLEncoding.EncodeToString([]byte(u.Username + "|" + strconv.FormatInt(u.TokenEpoch, 10) + "|" +
		strconv.FormatInt(time.Now().Unix(), 10) + "|" + device))
	http.SetCookie(w, &http.Cookie{
		Name:     deviceCookie,
		Value:    payload + "." + base64.RawURLEncoding.EncodeToString(s.deviceMAC(payload)),
		Path:     loginPath,
		MaxAge:   int(deviceTTL / time.Second),
		HttpOnly: true,
		Secure:   r.TLS != nil || s.limits().ForwardedHTTPS(r),
		SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) deviceMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.Tokens.Secret)
	m.Write([]byte(deviceLabel))
	m.Write([]byte(payload))
	return m.Sum(nil)
}
