package http

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/internal/clientnet"
)

// Rate is a rate limit: Events per Per, in bursts of up to Events. The zero
// value means no limit.
type Rate struct {
	Events int
	Per    time.Duration
}

// ParseRate reads a rate written "N/duration" ("10/1m": ten a minute, all
// ten at once if need be); "0" or "off" is no limit.
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "off" {
		return Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	events, err := strconv.Atoi(n)
	d, derr := time.ParseDuration(per)
	if !ok || err != nil || derr != nil || events < 1 || d <= 0 {
		return Rate{}, fmt.Errorf("rate %q: want N/duration, like 10/1m, or off", s)
	}
	return Rate{Events: events, Per: d}, nil
}

// String writes r as ParseRate reads it ("10/1m", or "off"), for flag
// defaults and logs.
func (r Rate) String() string {
	if r.Events == 0 {
		return "off"
	}
	per := r.Per.String()
	switch {
	case r.Per%time.Hour == 0:
		per = fmt.Sprintf("%dh", r.Per/time.Hour)
	case r.Per%time.Minute == 0:
		per = fmt.Sprintf("%dm", r.Per/time.Minute)
	}
	return fmt.Sprintf("%d/%s", r.Events, per)
}

// Limits protect the endpoints that cost a password hash (bcrypt, ~80 ms
// of CPU each) from floods: guessing one user's password, stuffing many,
// registering en masse. Every limit is per node (a cluster of n nodes lets
// n times through). The zero value limits nothing.
type Limits struct {
	LoginPerUser    Rate // failed login attempts per username
	LoginPerAddr    Rate // login attempts per client address
	RegisterPerAddr Rate // registrations per client address
	PasswordPerAddr Rate // password changes per client address
	// MembershipPerPair bounds the group invitations and rank changes one
	// user sends another, whatever the groups: inviting needs no tie to
	// the person, an invitation withdrawn may be sent again, and an
	// invitee may be re-ranked before answering, each a notification.
	MembershipPerPair Rate
	// StreamOpensPerUser bounds the live streams one user opens: each
	// replays the feed from where it starts, and a review's 32 streams
	// reconnecting from position 0 without pause replayed 798 times in
	// 45 s (4.4 GB, 1.4 cores), the 32 open at once notwithstanding.
	StreamOpensPerUser Rate
	// TrustedProxies are the addresses whose X-Forwarded-For is believed:
	// a request from one of them counts against the address it forwarded
	// for. Empty: the connection's address always.
	TrustedProxies []netip.Prefix
	// MaxHashing bounds the password hashes computed at once (login,
	// registration, password change); others wait for a slot, up to
	// HashWait. 0: no bound.
	MaxHashing int
	HashWait   time.Duration

	once                                     sync.Once
	loginUser, loginAddr, register, password *limiterTable
	membershipPair, streamOpens              *limiterTable
	hashing                                  chan struct{}
}

// DefaultLimits are the limits a node runs with unless configured: loose
// enough for a 64-client benchmark from one address, tight enough to make
// guessing a password hopeless.
func DefaultLimits(cpus int) *Limits {
	return &Limits{
		LoginPerUser:      Rate{10, time.Minute},
		LoginPerAddr:      Rate{300, time.Minute},
		RegisterPerAddr:   Rate{120, time.Minute},
		PasswordPerAddr:   Rate{30, time.Minute},
		MembershipPerPair: Rate{20, time.Hour},
		// A tab reconnects once per outage; 60 a minute is many tabs.
		StreamOpensPerUser: Rate{60, time.Minute},
		MaxHashing:         max(1, cpus/2),
		HashWait:           5 * time.Second,
	}
}

func (l *Limits) init() {
	l.once.Do(func() {
		l.loginUser = newLimiterTable(l.LoginPerUser)
		l.loginAddr = newLimiterTable(l.LoginPerAddr)
		l.register = newLimiterTable(l.RegisterPerAddr)
		l.password = newLimiterTable(l.PasswordPerAddr)
		l.membershipPair = newLimiterTable(l.MembershipPerPair)
		l.streamOpens = newLimiterTable(l.StreamOpensPerUser)
		if l.MaxHashing > 0 {
			l.hashing = make(chan struct{}, l.MaxHashing)
		}
	})
}

// ClientAddr is the address a request counts against: the connection's,
// or, from a trusted proxy, the nearest untrusted address of
// X-Forwarded-For (read right to left, as each proxy appends).
func (l *Limits) ClientAddr(r *http.Request) string {
	host, addr, proxy := l.connection(r)
	if !proxy {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing before it
		}
		addr = hop.Unmap()
		if !l.trusted(addr) {
			break
		}
	}
	return addr.String()
}

// ClientNetwork is what a request counts against in the limits: its client
// address (ClientAddr), and for IPv6 that address's /64, which any one
// host is given whole and may draw a fresh address from for each request
// (see internal/clientnet, which the connection limits count by too).
func (l *Limits) ClientNetwork(r *http.Request) string {
	return clientnet.OfHost(l.ClientAddr(r))
}

// ForwardedHTTPS reports whether a trusted proxy says the client reached
// it over HTTPS (X-Forwarded-Proto, the nearest proxy's word).
func (l *Limits) ForwardedHTTPS(r *http.Request) bool {
	if _, _, proxy := l.connection(r); !proxy {
		return false
	}
	protos := strings.Split(strings.Join(r.Header.Values("X-Forwarded-Proto"), ","), ",")
	return strings.EqualFold(strings.TrimSpace(protos[len(protos)-1]), "https")
}

// connection is the host the request's connection comes from, its
// address, and whether it is a trusted proxy (whose headers are believed).
func (l *Limits) connection(r *http.Request) (host string, addr netip.Addr, proxy bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err = netip.ParseAddr(host)
	return host, addr, err == nil && l.trusted(addr)
}

func (l *Limits) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allow takes one event for key from table, or returns a rate_limited
// error saying when to retry (and sets Retry-After on w).
func allow(w http.ResponseWriter, t *limiterTable, key, limit, what string) error {
	if wait, ok := t.take(key, time.Now()); !ok {
		return rateLimited(w, wait, limit, what)
	}
	return nil
}

// holdFor is allow for an attempt that counts only if it turns out to
// (limiterTable.hold): the caller calls done with whether it did.
func holdFor(w http.ResponseWriter, t *limiterTable, key, limit, what string) (done func(counts bool), err error) {
	release, wait, ok := t.hold(key, time.Now())
	if !ok {
		return nil, rateLimited(w, wait, limit, what)
	}
	return release, nil
}

// The limits a rate_limited error names in details.limit, so that a client
// can say which one the person met (the web UI tells someone locked out
// of their account by others' guesses what they can do).
const (
	limitLoginAddress    = "login_address"
	limitLoginUser       = "login_user"
	limitLoginDevice     = "login_device"
	limitRegistrations   = "registration_address"
	limitPasswordChanges = "password_address"
	limitMembership      = "membership_pair"
	limitPasswordChecks  = "password_checks"
	limitLiveStreams     = "live_streams"
	limitStreamOpens     = "live_stream_opens"
)

func rateLimited(w http.ResponseWriter, wait time.Duration, limit, what string) error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	return agenda.Errorf(agenda.ERATELIMITED, "too many %s; retry in %d s", what, secs).
		WithDetails(map[string]any{"retry_after_seconds": secs, "limit": limit})
}

// allowLogin checks both login limits: every attempt counts against the
// address (the address's first, so that a flood from one address does not
// also lock its victim out), and a username must have failed attempts
// left. Only failures count against the username (a user logging in often
// is not limited), but an attempt holds its token until its outcome is
// known, so that concurrent guesses count as failures before the password
// check, not after: the caller calls done with whether the attempt failed.
// username is the account tried, folded (agenda.FoldUsername), so that
// its case variants share one limit. device, if not empty, is the ID of
// the client's device cookie for that username (see device.go): its
// failures count against a limit of its own, which strangers' guesses at
// the name do not use up.
func (s *Server) allowLogin(w http.ResponseWriter, r *http.Request, username, device string) (done func(failed bool), err error) {
	l := s.limits()
	if err := allow(w, l.loginAddr, l.ClientNetwork(r), limitLoginAddress, "login attempts from this address"); err != nil {
		return nil, err
	}
	key, limit, what := username, limitLoginUser, "failed login attempts for this user"
	if device != "" {
		key, limit, what = username+"\x00"+device, limitLoginDevice, "failed login attempts for this user from this device"
	}
	return holdFor(w, l.loginUser, key, limit, what)
}

func (s *Server) allowRegister(w http.ResponseWriter, r *http.Request) error {
	l := s.limits()
	return allow(w, l.register, l.ClientNetwork(r), limitRegistrations, "registrations from this address")
}

// allowMembership checks that actor may invite user (an ID) to a group, or
// re-rank them, once more: a stranger could otherwise invite someone,
// withdraw the invitation and invite them again without end, two
// notifications a round pushing the person's real ones out of sight (an
// attacker's review: 300 rounds in a second), or re-rank an invitation
// not yet answered, a notification each time (the review that followed).
// Only changes made count: the caller calls done with whether one was.
func (s *Server) allowMembership(w http.ResponseWriter, actor, user string) (done func(made bool), err error) {
	return holdFor(w, s.limits().membershipPair, actor+"\x00"+user, limitMembership, "invitations and rank changes from you to this person")
}

// allowStreamOpen checks that user may open one more live stream. Only
// streams opened count: the caller calls done with whether the handshake
// succeeded, so that handshakes the WebSocket library refuses (a bad key
// or version, a foreign Origin) spend nothing (an attacker's review: 60
// of them locked the user's opens for a minute).
func (s *Server) allowStreamOpen(w http.ResponseWriter, user string) (done func(opened bool), err error) {
	return holdFor(w, s.limits().streamOpens, user, limitStreamOpens, "live streams opened by this user")
}

func (s *Server) allowPasswordChange(w http.ResponseWriter, r *http.Request) error {
	l := s.limits()
	return allow(w, l.password, l.ClientNetwork(r), limitPasswordChanges, "password changes from this address")
}

// hashSlot waits for one of MaxHashing slots to hash a password, so that
// a flood of logins takes at most that many cores from every other
// request. It returns the release function, or rate_limited if no slot
// frees up within HashWait.
func (s *Server) hashSlot(ctx context.Context, w http.ResponseWriter) (func(), error) {
	l := s.limits()
	if l.hashing == nil {
		return func() {}, nil
	}
	wait := l.HashWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case l.hashing <- struct{}{}:
		return func() { <-l.hashing }, nil
	case <-t.C:
		w.Header().Set("Retry-After", "1")
		return nil, agenda.Errorf(agenda.ERATELIMITED, "too many password checks in progress; retry shortly").
			WithDetails(map[string]any{"retry_after_seconds": 1, "limit": limitPasswordChecks})
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashing runs fn, which hashes a password, in one of the hashing slots
// (hashSlot), giving the slot back however fn ends, a panic included.
func hashing[T any](s *Server, ctx context.Context, w http.ResponseWriter, fn func() (T, error)) (T, error) {
	release, err := s.hashSlot(ctx, w)
	if err != nil {
		var zero T
		return zero, err
	}
	defer release()
	return fn()
}

var noLimits = &Limits{}

func (s *Server) limits() *Limits {
	l := s.Limits
	if l == nil {
		l = noLimits
	}
	l.init()
	return l
}

// maxLimiterKeys bounds each table. Past it, keys whose bucket has refilled
// (they would be allowed anyway) are forgotten; if none has, new keys share
// one bucket, so a flood of fresh keys limits itself rather than grow.
const maxLimiterKeys = 1 << 16

const overflowLimiterKey = "\x00overflow"

// limiterTable is one token bucket per key.
type limiterTable struct {
	rate rate.Limit
	rt   Rate

	mu    sync.Mutex
	keys  map[string]*rate.Limiter
	held  map[string]int // tokens held by attempts in flight (hold)
	swept time.Time      // last sweep of refilled keys
}

func newLimiterTable(r Rate) *limiterTable {
	t := &limiterTable{rt: r, keys: map[string]*rate.Limiter{}, held: map[string]int{}}
	if r.Events > 0 {
		t.rate = rate.Limit(float64(r.Events) / r.Per.Seconds())
	}
	return t
}

// hold reserves one of key's tokens for an attempt whose outcome is not
// known yet: attempts in flight at once count as if each would use its
// token, so that concurrent attempts cannot all pass a check made before
// any of them is counted. It refuses, saying how long until a token is
// due, when the tokens left less those held are under one. release ends
// the hold: used takes the token (a failed login), otherwise none is.
func (t *limiterTable) hold(key string, now time.Time) (release func(used bool), wait time.Duration, ok bool) {
	if t.rt.Events == 0 {
		return func(bool) {}, 0, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tokens := float64(t.rt.Events)
	if lim, found := t.keys[key]; found {
		tokens = lim.TokensAt(now)
	} else if lim, found := t.keys[overflowLimiterKey]; found {
		tokens = lim.TokensAt(now)
	}
	if left := tokens - float64(t.held[key]); left < 1 {
		return nil, time.Duration((1 - left) / float64(t.rate) * float64(time.Second)), false
	}
	t.held[key]++
	var once sync.Once
	return func(used bool) {
		once.Do(func() {
			// One critical section: a hold between giving this one up and
			// taking its token would see a token too many.
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.held[key]--; t.held[key] <= 0 {
				delete(t.held, key)
			}
			if used {
				t.takeLocked(key, time.Now())
			}
		})
	}, 0, true
}

// take takes one token for key, or says how long until one is due.
func (t *limiterTable) take(key string, now time.Time) (time.Duration, bool) {
	if t.rt.Events == 0 {
		return 0, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.takeLocked(key, now)
}

// takeLocked is take with t.mu held.
func (t *limiterTable) takeLocked(key string, now time.Time) (time.Duration, bool) {
	lim, ok := t.keys[key]
	if !ok {
		if len(t.keys) >= maxLimiterKeys && now.Sub(t.swept) >= time.Second {
			// At most once a second: a flood of fresh keys must not make
			// every request scan the table.
			t.swept = now
			for k, l := range t.keys {
				if l.TokensAt(now) >= float64(t.rt.Events) {
					delete(t.keys, k)
				}
			}
		}
		if len(t.keys) >= maxLimiterKeys {
			key = overflowLimiterKey
			lim = t.keys[key]
		}
		if lim == nil {
			lim = rate.NewLimiter(t.rate, t.rt.Events)
			t.keys[key] = lim
		}
	}
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d, false
	}
	return 0, true
}
