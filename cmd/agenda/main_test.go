package main

import (
	"fmt"
	"os"
	"testing"
)

// childEnv marks a test binary re-executed as an agenda node: crash tests
// need a real process they can SIGKILL.
const childEnv = "AGENDA_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		if err := run(splitArgs(args)); err != nil {
			fmt.Fprintln(os.Stderr, "agenda child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	code := m.Run()
	closeBenchNodes()
	os.Exit(code)
}

// splitArgs splits on the unit separator, so arguments may hold spaces.
func splitArgs(s string) []string {
	var out []string
	cur := ""
	for _, r := range s {
		if r == '\x1f' {
			out = append(out, cur)
			cur = ""
			continue
		}
		cur += string(r)
	}
	return append(out, cur)
}
