package main

import "syscall"

// childProcAttr has the kernel kill a node process if the test process dies
// (a test timeout, say) instead of leaving it running. Go never retires the
// threads that start processes here, so the signal only comes with the
// test process's end.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
