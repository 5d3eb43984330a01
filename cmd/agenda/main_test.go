package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childEnv marks a test binary re-executed as an agenda node: crash tests
// need a real process they can SIGKILL.
const childEnv = "AGENDA_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if args, ok := os.LookupEnv(childEnv); ok {
		// As main ends: the exit codes are part of what is tested.
		err := run(splitArgs(args))
		if err != nil {
			fmt.Fprintln(os.Stderr, "agenda child:", err)
		}
		os.Exit(exitCode(err))
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

// TestServeExitCodes: a node that cannot start exits 1, a bad flag 2 (a
// review found every failure of serve told as a usage error), help asked
// for 0 (a newcomer's walk-through found it 2). Run as a real process, this
// test binary re-executed as agenda.
func TestServeExitCodes(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"its HTTP port taken", []string{"serve", "-http-addr", taken.Addr().String(), "-raft-addr", "127.0.0.1:0",
			"-data-dir", t.TempDir(), "-log-level", "error"}, exitFailed},
		{"a bad flag", []string{"serve", "-no-such-flag"}, exitUsage},
		{"-h", []string{"serve", "-h"}, 0},
		{"help for cluster", []string{"cluster", "help"}, 0},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(tc.args, "\x1f"))
		out, err := cmd.CombinedOutput()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.want {
			t.Errorf("serve with %s: %v, want exit %d\n%s", tc.name, err, tc.want, out)
		}
	}
}
