//go:build !unix

package main

// listenerLimits has no file descriptor limit to fit here.
func listenerLimits(maxConns int) (int, uint64) { return maxConns, 0 }

// restrictNewFiles relies on the files' own modes here (see
// internal/sqlite).
func restrictNewFiles() {}
