//go:build unix

package main

import "syscall"

// listenerLimits fits the configured connection limit to the process's
// file descriptor limit (which Go raises to the hard limit at start),
// keeping a quarter of it, and at least 512, for the node's own files and
// outbound connections.
func listenerLimits(maxConns int) (int, uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return maxConns, 0
	}
	budget := int(min(rl.Cur, 1<<30))
	budget -= max(512, budget/4)
	return max(1, min(maxConns, budget)), rl.Cur
}

// restrictNewFiles makes every file and directory the process creates
// from now on private to its user (umask 077): the event store, read
// model, Raft log and snapshots hold usernames, e-mail addresses and
// password hashes.
func restrictNewFiles() { syscall.Umask(0o077) }
