package http

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Rate
		ok   bool
	}{
		{"10/1m", Rate{10, time.Minute}, true},
		{" 300/30s ", Rate{300, 30 * time.Second}, true},
		{"off", Rate{}, true},
		{"0", Rate{}, true},
		{"10", Rate{}, false},
		{"0/1m", Rate{}, false},
		{"-1/1m", Rate{}, false},
		{"10/0s", Rate{}, false},
		{"10/minute", Rate{}, false},
		{"", Rate{}, false},
	} {
		got, err := ParseRate(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// The client address is the connection's, unless the connection comes from
// a trusted proxy: then the nearest untrusted X-Forwarded-For hop. A client
// cannot choose its own address by sending the header.
func TestClientAddr(t *testing.T) {
	l := &Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}}
	for _, tt := range []struct {
		name, remote, xff, want string
	}{
		{"direct", "203.0.113.5:4000", "", "203.0.113.5"},
		{"untrusted sender's header is ignored", "203.0.113.5:4000", "198.51.100.1", "203.0.113.5"},
		{"trusted proxy", "10.1.2.3:4000", "198.51.100.1", "198.51.100.1"},
		{"chain of proxies", "10.1.2.3:4000", "198.51.100.1, 192.0.2.7", "198.51.100.1"},
		{"client spoofs a hop before the real one", "10.1.2.3:4000", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"garbled hop", "10.1.2.3:4000", "198.51.100.1, bogus", "10.1.2.3"},
		{"trusted proxy without header", "10.1.2.3:4000", "", "10.1.2.3"},
		{"only proxies", "10.1.2.3:4000", "10.9.9.9", "10.9.9.9"},
		{"IPv6 client", "10.1.2.3:4000", "2001:db8::1", "2001:db8::1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.ClientAddr(requestFrom(tt.remote, "X-Forwarded-For", tt.xff)); got != tt.want {
				t.Errorf("ClientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

// requestFrom is a login request from remote, with header set to value if
// value is not empty.
func requestFrom(remote, header, value string) *http.Request {
	r := httptest.NewRequest("POST", "/api/auth/login", nil)
	r.RemoteAddr = remote
	if value != "" {
		r.Header.Set(header, value)
	}
	return r
}

// Only a trusted proxy's X-Forwarded-Proto makes a request HTTPS (the device
// cookie's Secure attribute): the nearest proxy's word, not a client's.
func TestForwardedHTTPS(t *testing.T) {
	l := &Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tt := range []struct {
		name, remote, proto string
		want                bool
	}{
		{"trusted proxy over HTTPS", "10.1.2.3:4000", "https", true},
		{"trusted proxy over HTTP", "10.1.2.3:4000", "http", false},
		{"the nearest proxy's word counts", "10.1.2.3:4000", "https, http", false},
		{"an untrusted sender's header is ignored", "203.0.113.5:4000", "https", false},
		{"no header", "10.1.2.3:4000", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.ForwardedHTTPS(requestFrom(tt.remote, "X-Forwarded-Proto", tt.proto)); got != tt.want {
				t.Errorf("ForwardedHTTPS = %v, want %v", got, tt.want)
			}
		})
	}
}

// A table of limiters refuses past its rate, says when to retry, and stays
// bounded however many keys it sees.
func TestLimiterTable(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	tab := newLimiterTable(Rate{3, time.Minute})
	for i := range 3 {
		if _, ok := tab.take("ana", now); !ok {
			t.Fatalf("take %d refused", i+1)
		}
	}
	wait, ok := tab.take("ana", now)
	if ok || wait <= 0 || wait > 20*time.Second {
		t.Fatalf("4th take: ok %v, wait %v; want refused, ~20s", ok, wait)
	}
	if _, ok := tab.take("bob", now); !ok {
		t.Fatal("another key was limited")
	}
	if _, ok := tab.take("ana", now.Add(21*time.Second)); !ok {
		t.Fatal("not allowed again after the wait")
	}
	for i := range 2 * maxLimiterKeys {
		tab.take("k"+strconv.Itoa(i), now)
	}
	if n := len(tab.keys); n > maxLimiterKeys+1 {
		t.Errorf("table holds %d keys, want at most %d", n, maxLimiterKeys+1)
	}
}

// Attempts in flight hold their tokens: no more of them pass at once than
// tokens are left, and only those that fail use theirs.
func TestLimiterTableHolds(t *testing.T) {
	now := time.Now()
	tab := newLimiterTable(Rate{3, time.Hour})
	var releases []func(bool)
	for i := range 3 {
		release, _, ok := tab.hold("ana", now)
		if !ok {
			t.Fatalf("hold %d refused", i+1)
		}
		releases = append(releases, release)
	}
	if _, wait, ok := tab.hold("ana", now); ok || wait <= 0 {
		t.Fatalf("4th hold with 3 in flight: ok %v, wait %v; want refused", ok, wait)
	}
	if bob, _, ok := tab.hold("bob", now); !ok {
		t.Fatal("another key was limited")
	} else {
		bob(false)
	}
	releases[0](false) // a success gives its token back
	releases[0](true)  // and a second call does nothing
	if lim := tab.keys["ana"]; tab.held["ana"] != 2 || (lim != nil && lim.TokensAt(now) < 3) {
		t.Fatalf("after one release called twice: %d held; want 2 held and no token taken", tab.held["ana"])
	}
	release, _, ok := tab.hold("ana", now)
	if !ok {
		t.Fatal("refused after an attempt succeeded")
	}
	release(true)
	releases[1](true)
	releases[2](true)
	if _, _, ok := tab.hold("ana", time.Now()); ok {
		t.Fatal("allowed after 3 failures")
	}
	if n := len(tab.held); n != 0 {
		t.Errorf("%d keys still held, want none", n)
	}
}

// Holds released as failures while others are taken never let more
// attempts through than there are tokens (a review found a gap between
// giving up a hold and taking its token, in which an 11th of 10 passed).
func TestLimiterTableHoldsUnderContention(t *testing.T) {
	for range 50 {
		tab := newLimiterTable(Rate{10, time.Hour})
		var passed atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					release, _, ok := tab.hold("ana", time.Now())
					if !ok {
						continue
					}
					passed.Add(1)
					release(true)
				}
			})
		}
		wg.Wait()
		if n := passed.Load(); n > 10 {
			t.Fatalf("%d attempts passed a limit of 10", n)
		}
	}
}
