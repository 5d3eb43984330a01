//go:build unix

package faultproxy

import (
	"fmt"
	"syscall"
	"testing"
)

// deadAddr returns a loopback address that refuses connections for the rest
// of the test: a TCP socket bound to it but never listening holds the port,
// so no other listener can take it. (Closing a listener instead frees the
// port, and under a parallel test run another test's listener took it,
// which made the proxy's target come alive.)
func deadAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
