package clientnet

import (
	"net/netip"
	"testing"
)

func TestOfHost(t *testing.T) {
	if got := Of(netip.Addr{}); got != "" {
		t.Errorf("Of(zero Addr) = %q, want \"\"", got)
	}
	for host, want := range map[string]string{
		"203.0.113.5":          "203.0.113.5",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
		"::ffff:203.0.113.5":   "203.0.113.5",
		"fe80::1%eth0":         "fe80::/64",
		"::1":                  "::/64",
		"not-an-address":       "not-an-address",
		"":                     "",
	} {
		if got := OfHost(host); got != want {
			t.Errorf("OfHost(%q) = %q, want %q", host, got, want)
		}
	}
}
