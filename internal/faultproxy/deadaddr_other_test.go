//go:build !unix

package faultproxy

import (
	"net"
	"testing"
)

// deadAddr returns a loopback address nothing listens on: a closed
// listener's, which another listener may take again (deadaddr_unix_test.go
// holds the port instead).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
