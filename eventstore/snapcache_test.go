package eventstore_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/agendahq/agenda/eventstore"
)

// gunzip returns what a snapshot decompresses to: its lines.
func gunzip(tb testing.TB, snap []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(snap))
	if err != nil {
		tb.Fatalf("gunzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatalf("gunzip: %v", err)
	}
	return out
}

// cacheFiles are the snapshot cache's files beside the store at path.
func cacheFiles(path string) (data, meta string) {
	return path + ".snapcache", path + ".snapcache.json"
}

// readOrNil reads a file, nil if it does not exist.
func readOrNil(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	return b
}

// putBack writes b to name, or removes name if b is nil.
func putBack(tb testing.TB, name string, b []byte) {
	tb.Helper()
	var err error
	if b == nil {
		err = os.Remove(name)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	} else {
		err = os.WriteFile(name, b, 0o600)
	}
	if err != nil {
		tb.Fatal(err)
	}
}

// fullSnapshot is a snapshot of s made without the cache, which is left as
// it was: what every event encoded afresh gives.
func fullSnapshot(tb testing.TB, s *eventstore.Store, path string) []byte {
	tb.Helper()
	data, meta := cacheFiles(path)
	savedData, savedMeta := readOrNil(tb, data), readOrNil(tb, meta)
	putBack(tb, meta, nil)
	snap := mustSnapshot(tb, s)
	putBack(tb, data, savedData)
	putBack(tb, meta, savedMeta)
	return snap
}

// requireSameAsFull checks that snap holds the lines a full snapshot of s
// holds, and that it restores into a fresh store as s is.
func requireSameAsFull(tb testing.TB, s *eventstore.Store, path string, snap []byte) {
	tb.Helper()
	if got, want := gunzip(tb, snap), gunzip(tb, fullSnapshot(tb, s, path)); !bytes.Equal(got, want) {
		tb.Fatalf("snapshot lines differ from a full snapshot's:\n got %q\nwant %q", got, want)
	}
	dst := mustOpenStore(tb)
	mustRestore(tb, dst, snap)
	requireState(tb, dst, captureState(tb, s))
}

// TestSnapshotsCopyWhatTheLastOneCompressed: from the second snapshot on,
// each one copies the bytes the cache kept and encodes only the events
// since, and still holds exactly the lines of a snapshot encoded afresh.
func TestSnapshotsCopyWhatTheLastOneCompressed(t *testing.T) {
	s, path := mustOpenStoreFile(t)
	data, _ := cacheFiles(path)
	batches := history(t)
	for i := range batches {
		mustApplyHistory(t, s, batches, i, i+1)
		before := readOrNil(t, data)
		snap := mustSnapshot(t, s)
		if i > 0 && (len(before) == 0 || !bytes.Contains(snap, before)) {
			t.Fatalf("snapshot %d does not hold the %d bytes the cache kept", i+1, len(before))
		}
		requireSameAsFull(t, s, path, snap)
	}
	// A snapshot with nothing new copies the cache and adds nothing to it.
	before := readOrNil(t, data)
	requireSameAsFull(t, s, path, mustSnapshot(t, s))
	if after := readOrNil(t, data); !bytes.Equal(after, before) {
		t.Fatalf("a snapshot with no new event changed the cache: %d bytes, was %d", len(after), len(before))
	}
}

// TestSnapshotCacheIsUsedOnlyWhenItChecksOut: a cache that is damaged,
// belongs to another history, runs past the store, is of another format or
// encoding, or names no last event, is ignored (the snapshot is encoded afresh and the cache written anew);
// bytes past its valid length, as a torn write leaves them, are dropped.
func TestSnapshotCacheIsUsedOnlyWhenItChecksOut(t *testing.T) {
	batches := history(t)
	// primed opens a store holding the first n entries of history, with
	// a cache from a snapshot of them.
	primed := func(t *testing.T, n int) (*eventstore.Store, string) {
		s, path := mustOpenStoreFile(t)
		mustApplyHistory(t, s, batches, 0, n)
		mustSnapshot(t, s)
		return s, path
	}
	ignored := func(t *testing.T, s *eventstore.Store, path string, untrusted []byte) {
		t.Helper()
		snap := mustSnapshot(t, s)
		if bytes.Contains(snap, untrusted) {
			t.Fatal("the snapshot copied a cache that does not check out")
		}
		requireSameAsFull(t, s, path, snap)
		// The cache was written anew, and serves the next snapshot.
		data, _ := cacheFiles(path)
		fresh := readOrNil(t, data)
		mustApplyHistory(t, s, batches, int(mustAppliedIndex(t, s)), len(batches))
		if next := mustSnapshot(t, s); !bytes.Contains(next, fresh) {
			t.Fatal("the cache written anew was not used by the next snapshot")
		}
	}

	t.Run("damaged", func(t *testing.T) {
		s, path := primed(t, 3)
		data, _ := cacheFiles(path)
		b := readOrNil(t, data)
		b[len(b)/2] ^= 0x40
		putBack(t, data, b)
		mustApplyHistory(t, s, batches, 3, 4)
		ignored(t, s, path, b)
	})
	t.Run("another history", func(t *testing.T) {
		other, otherPath := mustOpenStoreFile(t)
		for i := range 3 {
			mustApply(t, other, uint64(i+1), streamBatchIDs(t, "other", "stream-o", int64(i), 1))
		}
		mustSnapshot(t, other)
		s, path := mustOpenStoreFile(t)
		mustApplyHistory(t, s, batches, 0, 3)
		ignored(t, s, path, copyCache(t, otherPath, path))
	})
	t.Run("past the store", func(t *testing.T) {
		_, longPath := primed(t, 5)
		s, path := mustOpenStoreFile(t)
		mustApplyHistory(t, s, batches, 0, 2)
		ignored(t, s, path, copyCache(t, longPath, path))
	})
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
	}{
		{"another format", func(m map[string]any) { m["format"] = 999 }},
		// A build that encodes lines otherwise (another JSON encoder,
		// say) must not append its lines to this one's: the line of the
		// cache's last event, encoded now, must be the one cached.
		{"another encoding", func(m map[string]any) { m["last_line_crc32c"] = m["last_line_crc32c"].(float64) + 1 }},
		{"no last event", func(m map[string]any) { m["last_id"] = "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, path := primed(t, 3)
			data, _ := cacheFiles(path)
			editMeta(t, path, tc.edit)
			mustApplyHistory(t, s, batches, 3, 4)
			ignored(t, s, path, readOrNil(t, data))
		})
	}
	t.Run("torn tail", func(t *testing.T) {
		s, path := primed(t, 3)
		data, _ := cacheFiles(path)
		valid := readOrNil(t, data)
		putBack(t, data, append(bytes.Clone(valid), "torn member"...))
		mustApplyHistory(t, s, batches, 3, 4)
		snap := mustSnapshot(t, s)
		if !bytes.Contains(snap, valid) || bytes.Contains(snap, []byte("torn member")) {
			t.Fatal("the snapshot did not copy exactly the cache's valid bytes")
		}
		requireSameAsFull(t, s, path, snap)
		if b := readOrNil(t, data); !bytes.HasPrefix(b, valid) || bytes.Contains(b, []byte("torn member")) {
			t.Fatal("the torn bytes were kept in the cache")
		}
	})
}

// copyCache puts the snapshot cache of the store at from beside the store
// at to, and returns its bytes.
func copyCache(tb testing.TB, from, to string) []byte {
	tb.Helper()
	fData, fMeta := cacheFiles(from)
	data, meta := cacheFiles(to)
	b := readOrNil(tb, fData)
	putBack(tb, data, b)
	putBack(tb, meta, readOrNil(tb, fMeta))
	return b
}

// editMeta rewrites the cache metadata of the store at path with edit.
func editMeta(tb testing.TB, path string, edit func(m map[string]any)) {
	tb.Helper()
	_, meta := cacheFiles(path)
	var m map[string]any
	if err := json.Unmarshal(readOrNil(tb, meta), &m); err != nil {
		tb.Fatal(err)
	}
	edit(m)
	putBack(tb, meta, mustJSON(tb, m))
}

// mustAppliedIndex is the Raft index s has applied.
func mustAppliedIndex(tb testing.TB, s *eventstore.Store) uint64 {
	tb.Helper()
	index, _ := mustApplied(tb, s)
	return index
}
