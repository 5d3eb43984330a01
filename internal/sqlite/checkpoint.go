package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Checkpoints run beside the writer, not in it.
//
// In WAL mode SQLite copies the log back into the database (a checkpoint)
// from inside the commit that takes the log past wal_autocheckpoint pages
// (1,000 by default): every hundredth or so transaction wrote a thousand
// pages and synced two files before it returned. On the write path that is
// the event store's apply and the read model's projection, which every
// acknowledged write waits for. A checkpointer goroutine now does it every
// checkpointEvery, on a query-only connection of its own (such a connection
// may checkpoint; a pool of one, so that it never queues behind queries),
// in PASSIVE mode: it never waits for the writer or a reader, and copies
// what they let it. Pages rewritten many times between two runs are copied
// once.
//
// Under a steady write load a commit lands while almost every background
// checkpoint runs, so the log is rarely copied in full at the moment a
// transaction begins, which is when SQLite starts it over. The writer
// therefore keeps an automatic checkpoint, at checkpointBackstop pages: by
// then the checkpointer has copied all but the last moments' frames, so
// that commit copies few pages, and the log starts over behind it.
// Durability is SQLite's own either way: who runs a checkpoint changes
// nothing about what a commit has made durable.
//
// BenchmarkCreateAppointment64, against the build before, alternating
// A-B-B-A twice on a slow afternoon (2026-12-03): 2,667–2,858 against
// 2,351–2,764 creates/s (means 2,764 and 2,592), p99 unchanged; one client
// at a time unchanged (425–462 against 430–479/s), p99 9.6–10.9 against
// 10.7–11.9 ms. A single create's projection 329–385 → 196–237 µs.
//
// The first commit after the log starts over cuts its file back to
// journal_size_limit, if it is longer. That limit lies above the
// backstop's 16.5 MB (4,000 frames of 4,120 bytes), so that under a steady
// load the file is written over in place: cut back to 4 MB, as it once
// was, it grew by 12 MB again every cycle, and ext4 allocates blocks for
// every write past a file's end. BenchmarkEventStoreCreates 68.6–69.2 → 64.4–67.6
// CPU-µs a create; one node at 64 clients, five 10 s runs each, interleaved
// (2026-12-05): 3,726–4,113 → 3,992–4,276 creates/s, CPU a create 0.311–0.350 →
// 0.307–0.326 ms. The cost is disk: once written that far, each log
// keeps 16.5–25 MB until the database is closed (a clean close removes
// it), idle or not. A log grown past the limit (a long reader held it, a
// large transaction) is still cut back to it.
const (
	checkpointEvery    = 100 * time.Millisecond
	checkpointBackstop = 4000     // pages: 16.5 MB of log at 4 KiB (frames of 4,120 bytes)
	walSizeLimit       = 24 << 20 // bytes (25.2 MB) the log file is cut back to when it starts over: above the backstop's
)

// checkpointer runs PASSIVE checkpoints on its own connection until
// stopped.
type checkpointer struct {
	conn   *sql.DB
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer sets the writer's backstop and starts the goroutine,
// on a connection opened with dsn (query-only).
func startCheckpointer(writer *sql.DB, dsn string) (*checkpointer, error) {
	for _, p := range []string{
		fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", checkpointBackstop),
		fmt.Sprintf("PRAGMA journal_size_limit = %d", walSizeLimit),
	} {
		if _, err := writer.Exec(p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	conn, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open checkpoint connection: %w", err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c, nil
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			// An error (SQLITE_BUSY while another checkpoint runs, say)
			// leaves the log for the next run or the backstop.
			_, _ = c.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}

// close stops the goroutine, waits for it and closes its connection; nil
// is a no-op.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.cancel()
	<-c.done
	return c.conn.Close()
}
