package main

import (
	"net"
	"testing"
)

func TestAdvertiseAddr(t *testing.T) {
	for _, bound := range []string{"127.0.0.1:7000", "10.1.2.3:8080", "agenda-1:7000"} {
		if got := advertiseAddr(bound, ""); got != bound {
			t.Errorf("advertiseAddr(%q) = %q, want it unchanged", bound, got)
		}
	}
	for _, bound := range []string{":7000", "0.0.0.0:7000", "[::]:7000"} {
		got := advertiseAddr(bound, "")
		host, port, err := net.SplitHostPort(got)
		if err != nil || port != "7000" || host == "" {
			t.Errorf("advertiseAddr(%q) = %q, want a host and port 7000", bound, got)
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			t.Errorf("advertiseAddr(%q) = %q, a wildcard", bound, got)
		}
	}
}
