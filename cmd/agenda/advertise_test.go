package main

import (
	"net"
	"os"
	"path/filepath"
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

func TestIncarnationAlwaysGrows(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "incarnation"), []byte("9000000000000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	first := nextIncarnation(dir, testLogger())
	if first != 9000000000000000001 {
		t.Fatalf("after a recorded future incarnation: %d", first)
	}
	if second := nextIncarnation(dir, testLogger()); second <= first {
		t.Fatalf("second start %d not above first %d", second, first)
	}
}
