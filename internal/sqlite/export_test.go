package sqlite

import "testing"

// PlayBoot makes Open read the boot ID from path until the test ends, so
// that a test can play a reboot (or a kernel without one: a missing file).
func PlayBoot(tb testing.TB, path string) {
	tb.Helper()
	prev := bootIDFile
	bootIDFile = path
	tb.Cleanup(func() { bootIDFile = prev })
}
