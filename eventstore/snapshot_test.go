package eventstore_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// history is the batches of a small log, one Raft entry each: entry i+1
// carries history[i]. Applying a prefix of it gives a store that a later
// snapshot of the whole extends.
func history(tb testing.TB) []events.Batch {
	tb.Helper()
	return []events.Batch{
		streamBatch(tb, "stream-1", 0, 1),
		streamBatch(tb, "agenda-u1", 0, 2),
		streamBatch(tb, "stream-1", 1, 3),
		streamBatch(tb, "stream-u1", 0, 1),
		streamBatch(tb, "stream-2", 0, 2),
		streamBatch(tb, "agenda-u1", 2, 1),
	}
}

// mustApplyHistory applies entries [from, to) of batches to s, one
// transaction per entry, recording entry i as Raft index i+1.
func mustApplyHistory(tb testing.TB, s *eventstore.Store, batches []events.Batch, from, to int) {
	tb.Helper()
	for i := from; i < to; i++ {
		mustApply(tb, s, uint64(i+1), batches[i])
	}
}

// mustSnapshot writes a snapshot of s and returns its bytes.
func mustSnapshot(tb testing.TB, s *eventstore.Store) []byte {
	tb.Helper()
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		tb.Fatalf("Snapshot: %v", err)
	}
	defer sn.Release()
	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil {
		tb.Fatalf("WriteTo: %v", err)
	}
	if n != int64(buf.Len()) {
		tb.Fatalf("WriteTo count: got %d, want the %d bytes written", n, buf.Len())
	}
	return buf.Bytes()
}

func restore(s *eventstore.Store, snap []byte) error {
	return s.Restore(context.Background(), bytes.NewReader(snap))
}

func mustRestore(tb testing.TB, s *eventstore.Store, snap []byte) {
	tb.Helper()
	if err := restore(s, snap); err != nil {
		tb.Fatalf("Restore: %v", err)
	}
}

// craftSnapshot encodes a snapshot by hand: header, then one JSON line per
// event, gzip-compressed, as WriteTo does.
func craftSnapshot(tb testing.TB, header map[string]any, evs []events.Envelope) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	if err := enc.Encode(header); err != nil {
		tb.Fatalf("encode header: %v", err)
	}
	for i := range evs {
		if err := enc.Encode(&evs[i]); err != nil {
			tb.Fatalf("encode event: %v", err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	return buf.Bytes()
}

func TestSnapshotRestoreIntoFreshStore(t *testing.T) {
	src := mustOpenStore(t)
	batches := history(t)
	mustApplyHistory(t, src, batches, 0, len(batches))
	want := captureState(t, src)
	snap := mustSnapshot(t, src)

	dst := mustOpenStore(t)
	_, changed := dst.Watch()
	mustRestore(t, dst, snap)
	requireState(t, dst, want)
	select {
	case <-changed:
	default:
		t.Error("Watch channel not closed by Restore")
	}

	// The restored store goes on exactly as the original would.
	next := streamBatch(t, "stream-1", 4, 1)
	cSrc := mustApply(t, src, 7, next)
	cDst := mustApply(t, dst, 7, next)
	if cSrc[0] != cDst[0] {
		t.Fatalf("next batch: restored store committed %+v, original %+v", cDst[0], cSrc[0])
	}
	requireSameEvents(t, mustReadAll(t, dst), mustReadAll(t, src))
}

func TestSnapshotOfEmptyStore(t *testing.T) {
	src := mustOpenStore(t)
	snap := mustSnapshot(t, src)
	dst := mustOpenStore(t)
	// Applied 0 is not newer than a fresh store: a no-op.
	mustRestore(t, dst, snap)
	requireState(t, dst, captureState(t, src))
}

func TestSnapshotWithoutNewEventsAdvancesApplied(t *testing.T) {
	// Entries that were all rejected still advance the applied index; a
	// snapshot taken after them carries the index alone.
	src := mustOpenStore(t)
	batches := history(t)
	mustApplyHistory(t, src, batches, 0, 3)
	tx := mustBegin(t, src)
	if err := tx.SetApplied(9, 2); err != nil {
		t.Fatalf("SetApplied: %v", err)
	}
	mustCommit(t, tx)
	snap := mustSnapshot(t, src)

	dst := mustOpenStore(t)
	mustApplyHistory(t, dst, batches, 0, 3)
	mustRestore(t, dst, snap)
	requireState(t, dst, captureState(t, src))
}

func TestSnapshotRestoreOntoPrefix(t *testing.T) {
	batches := history(t)
	src := mustOpenStore(t)
	mustApplyHistory(t, src, batches, 0, len(batches))
	want := captureState(t, src)
	snap := mustSnapshot(t, src)

	for prefix := 1; prefix < len(batches); prefix++ {
		t.Run(fmt.Sprintf("store holds %d of %d entries", prefix, len(batches)), func(t *testing.T) {
			dst := mustOpenStore(t)
			mustApplyHistory(t, dst, batches, 0, prefix)
			mustRestore(t, dst, snap)
			requireState(t, dst, want)
		})
	}
}

func TestRestoreOlderSnapshotIsNoOp(t *testing.T) {
	batches := history(t)
	s := mustOpenStore(t)
	mustApplyHistory(t, s, batches, 0, 3)
	older := mustSnapshot(t, s)
	mustApplyHistory(t, s, batches, 3, len(batches))
	same := mustSnapshot(t, s)
	want := captureState(t, s)

	tests := []struct {
		name string
		snap []byte
	}{
		{name: "older snapshot", snap: older},
		{name: "snapshot at the current index", snap: same},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mustRestore(t, s, tt.snap)
			requireState(t, s, want)
		})
	}
}

func TestRestoreDivergedHistoryFails(t *testing.T) {
	batches := history(t)
	src := mustOpenStore(t)
	mustApplyHistory(t, src, batches, 0, 4)
	snap := mustSnapshot(t, src)

	tests := []struct {
		name    string
		build   func(t *testing.T, s *eventstore.Store)
		wantErr string
	}{
		{
			name: "different event at the head position",
			build: func(t *testing.T, s *eventstore.Store) {
				mustApplyHistory(t, s, batches, 0, 1)
				mustApply(t, s, 2, streamBatch(t, "other", 0, 2)) // positions 2-3, snapshot has agenda-u1 there
			},
			wantErr: "diverged",
		},
		{
			name: "same stream and version under another id",
			build: func(t *testing.T, s *eventstore.Store) {
				b := streamBatch(t, "stream-1", 0, 1)
				b.Events[0].ID = "forked"
				mustApply(t, s, 1, b)
			},
			wantErr: "diverged",
		},
		{
			name: "store longer than the snapshot at a lower index",
			build: func(t *testing.T, s *eventstore.Store) {
				mustApply(t, s, 2, streamBatch(t, "other", 0, 20))
			},
			wantErr: "diverged",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := mustOpenStore(t)
			tt.build(t, dst)
			before := captureState(t, dst)
			err := restore(dst, snap)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Restore: got %v, want an error mentioning %q", err, tt.wantErr)
			}
			requireState(t, dst, before)
		})
	}
}

func TestRestoreBrokenSnapshotFails(t *testing.T) {
	batches := history(t)
	src := mustOpenStore(t)
	mustApplyHistory(t, src, batches, 0, len(batches))
	snap := mustSnapshot(t, src)
	all := mustReadAll(t, src)
	header := func(head int64) map[string]any {
		return map[string]any{"format": 1, "applied_index": 100, "applied_term": 3, "head": head}
	}
	flip := func(at int) []byte {
		b := bytes.Clone(snap)
		b[at] ^= 0x55
		return b
	}
	// altered is a snapshot of a copy of all that change made wrong.
	altered := func(change func(evs []events.Envelope)) []byte {
		evs := append([]events.Envelope(nil), all...)
		change(evs)
		return craftSnapshot(t, header(int64(len(all))), evs)
	}

	tests := []struct {
		name string
		snap []byte
	}{
		{name: "empty", snap: nil},
		{name: "not gzip", snap: []byte(`{"format":1,"applied_index":100,"head":0}` + "\n")},
		{name: "gzip header only", snap: snap[:10]},
		{name: "truncated to a third", snap: snap[:len(snap)/3]},
		{name: "truncated to two thirds", snap: snap[:2*len(snap)/3]},
		{name: "last byte missing", snap: snap[:len(snap)-1]},
		{name: "gzip trailer missing", snap: snap[:len(snap)-8]},
		{name: "byte flipped in the middle", snap: flip(len(snap) / 2)},
		{name: "checksum flipped", snap: flip(len(snap) - 6)},
		{name: "unknown format", snap: craftSnapshot(t, map[string]any{"format": 2, "applied_index": 100, "head": 0}, nil)},
		{name: "header is not json", snap: func() []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write([]byte("hello\n"))
			zw.Close()
			return buf.Bytes()
		}()},
		{name: "events missing at the end", snap: craftSnapshot(t, header(all[len(all)-1].Position), all[:len(all)-2])},
		{name: "header only, head says events follow", snap: craftSnapshot(t, header(int64(len(all))), nil)},
		{name: "position gap after the prefix", snap: craftSnapshot(t, header(int64(len(all))), append(append([]events.Envelope(nil), all[:4]...), all[5:]...))},
		{
			// all[2] is the head of the 2-entry prefix (3 events): a
			// snapshot that skips it must not be appended unchecked.
			name: "position gap at the prefix's head",
			snap: craftSnapshot(t, header(int64(len(all))), append(append([]events.Envelope(nil), all[:2]...), all[3:]...)),
		},
		{name: "position gap before the prefix's head", snap: craftSnapshot(t, header(int64(len(all))), append([]events.Envelope{all[0]}, all[2:]...))},
		{name: "positions do not start at 1", snap: craftSnapshot(t, header(int64(len(all))), all[1:])},
		{name: "event without a type", snap: altered(func(evs []events.Envelope) { evs[len(evs)-1].Type = "" })},
		{name: "event line is garbage", snap: func() []byte {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(mustJSON(t, header(int64(len(all)))))
			zw.Write([]byte("\n{\"position\": 1, \"id\": \n"))
			zw.Close()
			return buf.Bytes()
		}()},
		// Events 2, 3 and 10 are versions 1, 2 and 3 of agenda-u1; events
		// 4 to 6 versions 2 to 4 of stream-1.
		{name: "repeated version of a stream the prefix holds", snap: altered(func(evs []events.Envelope) { evs[9].Version = 2 })},
		{name: "repeated version within the restored events", snap: altered(func(evs []events.Envelope) { evs[5].Version = 3 })},
		{name: "version gap", snap: altered(func(evs []events.Envelope) { evs[9].Version = 4 })},
		{name: "repeated event id", snap: altered(func(evs []events.Envelope) { evs[3].ID = evs[1].ID })},
	}
	targets := []struct {
		name   string
		prefix int
	}{
		{name: "fresh store", prefix: 0},
		{name: "store with a prefix", prefix: 2},
	}
	for _, target := range targets {
		for _, tt := range tests {
			t.Run(target.name+"/"+tt.name, func(t *testing.T) {
				dst := mustOpenStore(t)
				mustApplyHistory(t, dst, batches, 0, target.prefix)
				before := captureState(t, dst)
				if err := restore(dst, tt.snap); err == nil {
					t.Fatal("Restore: got no error, want one")
				}
				requireState(t, dst, before)
				// The failed restore left the store usable: the real
				// snapshot still restores.
				mustRestore(t, dst, snap)
				requireState(t, dst, captureState(t, src))
			})
		}
	}
}

// Restore checks versions a chunk (256 events) at a time, looking each
// chunk's streams up in the transaction: a repeat or a gap across a chunk's
// edge, or against a store's prefix, is refused all the same, and a whole
// stream over several chunks restores.
func TestRestoreChecksVersionsAcrossChunks(t *testing.T) {
	src := mustOpenStore(t)
	for i := range 6 {
		mustApply(t, src, uint64(i+1), streamBatch(t, "long", int64(100*i), 100))
	}
	all := mustReadAll(t, src)
	header := map[string]any{"format": 1, "applied_index": 100, "applied_term": 3, "head": len(all)}
	for _, prefix := range []int{0, 1, 3} {
		for _, at := range []int{255, 256, 257, 511, 599} {
			for name, version := range map[string]int64{"repeat": all[at].Version - 1, "gap": all[at].Version + 1} {
				if at < 100*prefix {
					continue // in the prefix: not restored
				}
				t.Run(fmt.Sprintf("prefix %d, %s at %d", prefix, name, at), func(t *testing.T) {
					dst := mustOpenStore(t)
					for i := range prefix {
						mustApply(t, dst, uint64(i+1), streamBatch(t, "long", int64(100*i), 100))
					}
					before := captureState(t, dst)
					evs := append([]events.Envelope(nil), all...)
					evs[at].Version = version
					if err := restore(dst, craftSnapshot(t, header, evs)); err == nil {
						t.Fatal("Restore: got no error, want one")
					}
					requireState(t, dst, before)
					mustRestore(t, dst, craftSnapshot(t, header, all))
					if got := mustReadAll(t, dst); len(got) != len(all) {
						t.Fatalf("restored %d events, want %d", len(got), len(all))
					}
				})
			}
		}
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	batches := history(t)
	s := mustOpenStore(t)
	mustApplyHistory(t, s, batches, 0, 3)
	want := captureState(t, s)

	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer sn.Release()
	if got := sn.AppliedIndex(); got != 3 {
		t.Fatalf("AppliedIndex: got %d, want 3", got)
	}

	// Writes committed after the snapshot was taken (the FSM goes on while
	// raft persists it) are not in it.
	mustApplyHistory(t, s, batches, 3, len(batches))
	if got := s.Head(); got <= want.Head {
		t.Fatalf("Head after more writes: got %d, want past %d", got, want.Head)
	}
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	if got := sn.AppliedIndex(); got != 3 {
		t.Fatalf("AppliedIndex after more writes: got %d, want 3", got)
	}

	dst := mustOpenStore(t)
	mustRestore(t, dst, buf.Bytes())
	requireState(t, dst, want)
}

func TestSnapshotDoesNotBlockWriter(t *testing.T) {
	s := mustOpenStore(t)
	batches := history(t)
	mustApplyHistory(t, s, batches, 0, 2)
	sn, err := s.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer sn.Release()
	// Many commits while the snapshot's read transaction is open.
	for i := 2; i < len(batches); i++ {
		mustApplyHistory(t, s, batches, i, i+1)
	}
	for i := range 50 {
		mustApply(t, s, uint64(len(batches)+1+i), streamBatch(t, fmt.Sprintf("extra-%d", i), 0, 1))
	}
	if _, err := sn.WriteTo(new(bytes.Buffer)); err != nil {
		t.Fatalf("WriteTo after concurrent commits: %v", err)
	}
}

// TestAppendRefusesNonCompactData: data is replicated byte for byte, so only
// its canonical (compact) form is accepted; otherwise a snapshot, which
// re-encodes it, could give a replica other bytes than the leader.
func TestAppendRefusesNonCompactData(t *testing.T) {
	s := mustOpenStore(t)
	b := streamBatch(t, "a", 0, 1)
	b.Events[0].Data = json.RawMessage("{ \"appointment_id\": \"<a & b>\" }")
	tx, err := s.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Append(b); !errors.Is(err, events.ErrMalformed) {
		t.Fatalf("Append of non-compact data: got %v, want events.ErrMalformed", err)
	}
}

func TestSnapshotPreservesDataBytes(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		// What events.New produces: compact, HTML-escaped by json.Marshal.
		{name: "as events.New encodes it", data: string(mustJSON(t, events.AppointmentDeleted{AppointmentID: "<a & b>"}))},
		// Compact, but with characters the encoder would HTML-escape.
		{name: "compact with HTML characters", data: `{"appointment_id":"<a & b>"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpenStore(t)
			b := streamBatch(t, "a", 0, 1)
			b.Events[0].Data = json.RawMessage(tt.data)
			mustApply(t, s, 1, b)
			want := captureState(t, s)
			if got := string(want.Events[0].Data); got != tt.data {
				t.Fatalf("stored data: got %q, want %q", got, tt.data)
			}

			dst := mustOpenStore(t)
			mustRestore(t, dst, mustSnapshot(t, s))
			got := mustReadAll(t, dst)
			if len(got) == 1 && string(got[0].Data) != tt.data {
				t.Fatalf("restored data: got %q, want %q", got[0].Data, tt.data)
			}
			requireState(t, dst, want)
		})
	}
}

// TestSnapshotOfNonJSONData: the store refuses data its snapshot could not
// carry, so snapshots keep working.
func TestSnapshotOfNonJSONData(t *testing.T) {
	s := mustOpenStore(t)
	mustApply(t, s, 1, streamBatch(t, "a", 0, 1))
	before := captureState(t, s)

	for _, data := range []string{"not json", `{"appointment_id":"x"`, `{"appointment_id":"x"} trailing`} {
		b := streamBatch(t, "a", 1, 1)
		b.Events[0].Data = json.RawMessage(data)
		if err := appendAndCommit(t, s, b); !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("Append with data %q: got %v, want an error wrapping %v", data, err, events.ErrMalformed)
		}
		requireState(t, s, before)
	}

	dst := mustOpenStore(t)
	mustRestore(t, dst, mustSnapshot(t, s))
	requireState(t, dst, before)
}
