package sqlite

/*
extern int sqlite3_config(int, ...);
extern long long sqlite3_memory_used(void);

// SQLITE_CONFIG_MEMSTATUS, from sqlite3.h (not on this package's include
// path: go-sqlite3 compiles SQLite into its own package).
#define AGENDA_CONFIG_MEMSTATUS 9

static int agenda_memstatus_off(void) {
	return sqlite3_config(AGENDA_CONFIG_MEMSTATUS, 0);
}
*/
import "C"

import "fmt"

// disableMemStatus turns off SQLite's memory statistics for the process,
// as SQLite recommends for speed (SQLITE_DEFAULT_MEMSTATUS=0 among its
// recommended compile-time options). With them on, every allocation SQLite
// makes takes a process-wide mutex to count itself; nothing here reads the
// counts (sqlite3_memory_used, the soft heap limit). One node at 64
// clients, three interleaved pairs of 10 s runs, with it off against on:
// 0.346–0.364 against 0.368–0.401 CPU-ms a create, 3,611–3,804 against
// 3,241–3,577 creates a second (2026-12-06, a slow hour).
//
// It must run before SQLite initializes, which the first connection, or
// registering the automatic extension (qpsg.go), does: init calls it first.
func disableMemStatus() {
	if rc := C.agenda_memstatus_off(); rc != 0 {
		panic(fmt.Sprintf("sqlite: turning off memory statistics failed (%d): SQLite was initialized before this package", int(rc)))
	}
}

// memoryUsed is SQLite's count of the memory it holds: 0 with the
// statistics off (TestMemStatusIsOff).
func memoryUsed() int64 { return int64(C.sqlite3_memory_used()) }
