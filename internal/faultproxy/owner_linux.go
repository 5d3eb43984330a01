package faultproxy

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// OwnerPID returns which of the processes pids holds the other end of conn,
// a TCP connection accepted on this host: it names the process that dialed
// it. It reads /proc/net/tcp{,6} and /proc/<pid>/fd, so it works for
// processes of the same user on the same host (a test's child processes).
// ok is false if no process in pids owns it.
//
// It lets a proxy tell apart peers that all dial from 127.0.0.1, without
// their co-operation.
func OwnerPID(conn net.Conn, pids []int) (pid int, ok bool) {
	peer, isTCP := conn.RemoteAddr().(*net.TCPAddr)
	if !isTCP {
		return 0, false
	}
	us, isTCP := conn.LocalAddr().(*net.TCPAddr)
	if !isTCP {
		return 0, false
	}
	inode, found := socketInode(peer, us)
	if !found {
		return 0, false
	}
	want := "socket:[" + inode + "]"
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", pid)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == want {
				return pid, true
			}
		}
	}
	return 0, false
}

// socketInode finds the inode of the TCP socket from local to remote. Both
// ends count: an ephemeral port may be in use by several connections to
// different destinations at once.
func socketInode(local, remote *net.TCPAddr) (string, bool) {
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[9] == "0" {
				continue
			}
			lip, lport, ok := parseProcAddr(fields[1])
			if !ok || lport != local.Port || !lip.Equal(local.IP) {
				continue
			}
			rip, rport, ok := parseProcAddr(fields[2])
			if ok && rport == remote.Port && rip.Equal(remote.IP) {
				f.Close()
				return fields[9], true
			}
		}
		f.Close()
	}
	return "", false
}

// parseProcAddr decodes "0100007F:1F90": the address as 32-bit words in host
// (little-endian) order, the port in big-endian hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, false
	}
	return net.IP(raw), int(port), true
}
