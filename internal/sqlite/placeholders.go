package sqlite

import (
	"math/bits"
	"slices"
	"strings"
)

// A statement built for a number of values (an IN list of n placeholders,
// a multi-row INSERT of n rows) is a different statement for every n, and
// go-sqlite3 prepares each anew once it has fallen out of the connection's
// statement cache (_stmt_cache_size, least recently used first). A Raft
// batch holds however many commands were waiting, so building one statement
// per count prepared a new statement (and compiled the event store's
// triggers into it) on most transactions, and pushed the fixed statements
// out of the cache with it. Counts are therefore kept to powers of two: a
// statement shape has at most a dozen texts, all of which stay cached.

// In returns "(?, ?, …)" for args rounded up to a power of two, and args
// padded to that length by repeating the last one: the same set, for an IN
// list. args must not be empty.
func In(args []any) (string, []any) {
	n := ceilPow2(len(args))
	args = slices.Clip(args) // padding must not write into the caller's array
	for len(args) < n {
		args = append(args, args[len(args)-1])
	}
	return "(" + Repeat("?", ", ", n) + ")", args
}

// Runs splits n rows into runs whose lengths are powers of two, at most
// limit (itself a power of two) each, largest first: the multi-row
// statements to write them with. 37 rows at a limit of 256 are 32 + 4 + 1.
func Runs(n, limit int) []int {
	var runs []int
	for n > 0 {
		r := min(limit, 1<<(bits.Len(uint(n))-1))
		runs = append(runs, r)
		n -= r
	}
	return runs
}

// Repeat returns n copies of s separated by sep.
func Repeat(s, sep string, n int) string {
	if n <= 0 {
		return ""
	}
	return s + strings.Repeat(sep+s, n-1)
}

// ceilPow2 is the smallest power of two at least n (1 for n ≤ 1).
func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
