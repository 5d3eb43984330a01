package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"github.com/agendahq/agenda/events"
)

// snapshotCache keeps, beside the database, the compressed lines of events
// 1…UpTo exactly as the last snapshot wrote them: one or more complete gzip
// members. A snapshot holds the whole history, and the history is
// append-only, so the next snapshot starts with those same bytes: it copies
// them and compresses only the events since. Encoding every event again was
// a snapshot's whole cost (5.5 CPU-s per million events, on every node,
// every SnapshotThreshold entries), which grew with the history; copying
// costs what reading and checksumming the file does.
//
// gzip readers read concatenated members as one stream (RFC 1952 §2.2; Go's
// gzip.Reader does by default), so a snapshot built this way decompresses to
// the same bytes as one compressed in one piece, and any build restores it.
//
// The cache is derived: losing it, or any doubt about it, costs one full
// snapshot, which writes it anew. Nothing is trusted unless it checks out
// against its metadata: the same line format, a CRC-32C of the bytes, and
// the store's own event at UpTo under the same ID (a file that does not
// belong to this store's history is never copied), and that event encoded
// by this build to the line the cache holds for it (bytes written by a
// build that encoded lines otherwise are never mixed with this one's). So
// no fsync is needed either: a file torn by a crash fails its checksum.
type snapshotCache struct {
	mu   sync.Mutex
	path string // the members; path+".json" holds cacheMeta
}

// cacheFormat versions the cache's files. A change in how events are
// encoded is caught without it (cacheMeta.LastLine), but a change in what
// a snapshot's lines are must bump snapshotFormat, and this with it.
const cacheFormat = 1

// cacheMeta describes the cache file's valid prefix.
type cacheMeta struct {
	Format int    `json:"format"`
	UpTo   int64  `json:"up_to"`   // the last position the members hold
	LastID string `json:"last_id"` // the ID of the event at UpTo
	// LastLine is the CRC-32C of that event's line, newline excluded.
	LastLine uint32 `json:"last_line_crc32c"`
	Length   int64  `json:"length"` // bytes of complete members
	CRC      uint32 `json:"crc32c"` // CRC-32C of those bytes
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func newSnapshotCache(dbPath string) *snapshotCache {
	return &snapshotCache{path: dbPath + ".snapcache"}
}

// load returns the cache's metadata if the file holds what it says (its
// first Length bytes have the recorded checksum); ok is false otherwise.
func (c *snapshotCache) load() (m cacheMeta, ok bool) {
	raw, err := os.ReadFile(c.path + ".json")
	if err != nil || json.Unmarshal(raw, &m) != nil || m.Format != cacheFormat || m.UpTo <= 0 || m.Length <= 0 {
		return cacheMeta{}, false
	}
	f, err := os.Open(c.path)
	if err != nil {
		return cacheMeta{}, false
	}
	defer f.Close()
	h := crc32.New(castagnoli)
	if n, err := io.Copy(h, io.LimitReader(f, m.Length)); err != nil || n != m.Length || h.Sum32() != m.CRC {
		return cacheMeta{}, false
	}
	return m, true
}

// copyTo writes the first m.Length bytes of the cache to w.
func (c *snapshotCache) copyTo(w io.Writer, m cacheMeta) error {
	f, err := os.Open(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, m.Length))
	if err == nil && n != m.Length {
		err = fmt.Errorf("snapshot cache: %d of %d bytes", n, m.Length)
	}
	return err
}

// extension appends members to the cache after the valid prefix base (the
// zero cacheMeta: start the file over). Writes to it never fail: after a
// failed one, commit drops the cache instead of extending it.
type extension struct {
	c    *snapshotCache
	base cacheMeta
	f    *os.File
	crc  uint32 // of the whole file: base's, continued over the new bytes
	n    int64
	err  error
}

// extend opens the cache for appending after base.
func (c *snapshotCache) extend(base cacheMeta) *extension {
	x := &extension{c: c, base: base, crc: base.CRC}
	f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err == nil {
		// Bytes past the valid prefix are a torn or abandoned member.
		err = f.Truncate(base.Length)
	}
	if err == nil {
		_, err = f.Seek(base.Length, io.SeekStart)
	}
	if err != nil && f != nil {
		f.Close()
		f = nil
	}
	x.f, x.err = f, err
	return x
}

func (x *extension) Write(p []byte) (int, error) {
	if x.err == nil {
		_, x.err = x.f.Write(p)
		x.crc = crc32.Update(x.crc, castagnoli, p)
		x.n += int64(len(p))
	}
	return len(p), nil
}

// commit records that the cache now holds events up to upTo, the last
// one last, if every write went through; otherwise it forgets the cache.
func (x *extension) commit(upTo int64, last events.Envelope) {
	if x.f != nil {
		if err := x.f.Close(); x.err == nil {
			x.err = err
		}
	}
	if x.err != nil {
		x.c.forget()
		return
	}
	line, err := lineCRC(&last)
	if err != nil {
		x.c.forget()
		return
	}
	m := cacheMeta{Format: cacheFormat, UpTo: upTo, LastID: last.ID, LastLine: line, Length: x.base.Length + x.n, CRC: x.crc}
	if err := x.c.store(m); err != nil {
		x.c.forget()
	}
}

// abandon stops the extension, leaving the metadata as it was: it still
// describes base, the prefix the bytes appended since are ignored past
// (none, if the extension started the file over: the metadata was
// forgotten first).
func (x *extension) abandon() {
	if x.f != nil {
		x.f.Close()
	}
}

// store writes the metadata atomically (a rename over the old file).
func (c *snapshotCache) store(m cacheMeta) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := c.path + ".json.tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, c.path+".json")
}

// lineCRC is the CRC-32C of e's line in a snapshot, newline excluded.
func lineCRC(e *events.Envelope) (uint32, error) {
	var b bytes.Buffer
	if err := encodeLine(&b, e); err != nil {
		return 0, err
	}
	return crc32.Checksum(b.Bytes(), castagnoli), nil
}

// forget drops the metadata, so that the next snapshot starts over.
func (c *snapshotCache) forget() {
	// Metadata that cannot be removed is trusted again only if the file
	// still matches its checksum, so nothing wrong is ever copied.
	_ = os.Remove(c.path + ".json")
}
