package faultproxy

import (
	"net"
	"os"
	"testing"
)

func TestOwnerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	me := os.Getpid()
	if pid, ok := OwnerPID(s.RemoteAddr(), []int{1, me}); !ok || pid != me {
		t.Fatalf("OwnerPID = %d, %v; want %d, true", pid, ok, me)
	}
	if pid, ok := OwnerPID(s.RemoteAddr(), []int{1}); ok {
		t.Fatalf("OwnerPID among others = %d, want none", pid)
	}
}

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ip   string
		port int
	}{
		{"0100007F:1F90", "127.0.0.1", 8080},
		{"0000000000000000FFFF00000200007F:0050", "127.0.0.2", 80},
		{"00000000000000000000000001000000:0016", "::1", 22},
	} {
		ip, port, ok := parseProcAddr(tc.in)
		if !ok || !ip.Equal(net.ParseIP(tc.ip)) || port != tc.port {
			t.Errorf("parseProcAddr(%q) = %v, %d, %v; want %s, %d", tc.in, ip, port, ok, tc.ip, tc.port)
		}
	}
}
