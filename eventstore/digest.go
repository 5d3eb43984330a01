package eventstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"

	"github.com/agendahq/agenda/internal/sqlite"
)

// digestKey is the meta row in which a backup records the digest of its
// events (eventsDigest) when it is written. A restore recomputes it and
// refuses a file whose events no longer match: a review flipped one byte of
// an event's compressed data in a backup, and the restore, whose checks
// (quick_check, dense positions, stream versions) read no event's data,
// served the damaged appointment as another owner's. A digest is no
// signature: whoever can write the file and knows its format can
// recompute it. It is removed from a restored store, which is no backup.
const digestKey = "backup_digest"

// eventsDigest is a digest of every event as stored, in position order:
// the first 8 bytes of a SHA-256 over each column's storage class and
// bytes, as one integer (the meta table's type).
func eventsDigest(ctx context.Context, db *sqlite.DB) (int64, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT position, id, stream, version, type, schema_version,
		time, origin_node, actor, correlation_id, data FROM events ORDER BY position`)
	if err != nil {
		return 0, fmt.Errorf("read events for their digest: %w", err)
	}
	defer rows.Close()
	h := sha256.New()
	cols := make([]any, 11)
	ptrs := make([]any, len(cols))
	for i := range cols {
		ptrs[i] = &cols[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return 0, fmt.Errorf("read events for their digest: %w", err)
		}
		for _, v := range cols {
			if err := digestValue(h, v); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read events for their digest: %w", err)
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil))), nil
}

// digestValue writes one stored value to h: a tag for its storage class,
// then its length and bytes, so that no two rows hash alike by shifting
// bytes from one column to the next.
func digestValue(h hash.Hash, v any) error {
	var buf [9]byte
	switch v := v.(type) {
	case nil:
		h.Write([]byte{'n'})
	case int64:
		buf[0] = 'i'
		binary.BigEndian.PutUint64(buf[1:], uint64(v))
		h.Write(buf[:])
	case float64:
		buf[0] = 'f'
		binary.BigEndian.PutUint64(buf[1:], math.Float64bits(v))
		h.Write(buf[:])
	case []byte:
		digestBytes(h, 'b', v)
	case string:
		digestBytes(h, 's', []byte(v))
	default:
		return fmt.Errorf("digest: a stored value of type %T", v)
	}
	return nil
}

func digestBytes(h hash.Hash, tag byte, b []byte) {
	var buf [9]byte
	buf[0] = tag
	binary.BigEndian.PutUint64(buf[1:], uint64(len(b)))
	h.Write(buf[:])
	h.Write(b)
}

// recordDigest writes the digest of the events of the backup file at path
// into its meta table.
func recordDigest(ctx context.Context, path string) error {
	db, err := openExisting(ctx, path)
	if err != nil {
		return err
	}
	digest, err := eventsDigest(ctx, db)
	if err == nil {
		// An upsert: a store put in place by copying a backup file
		// (not by restore) still holds the backup's digest.
		_, err = db.Write.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", digestKey, digest)
		if err != nil {
			err = fmt.Errorf("record the backup's digest: %w", err)
		}
	}
	return errors.Join(err, db.Close())
}

// checkDigest compares the events of the backup db with the digest it
// recorded when written, and reports whether it had one: a backup of an
// older build has none, and only its structure can be checked.
func checkDigest(ctx context.Context, db *sqlite.DB) (bool, error) {
	var recorded int64
	err := db.Read.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", digestKey).Scan(&recorded)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("%w: read the backup's digest: %v", ErrNotEventStore, err)
	}
	got, err := eventsDigest(ctx, db)
	if err != nil {
		return false, err
	}
	if got != recorded {
		return true, fmt.Errorf("%w: its events do not match the digest recorded when it was written: the file was damaged or edited since", ErrNotEventStore)
	}
	return true, nil
}
