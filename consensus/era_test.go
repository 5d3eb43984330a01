package consensus

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDecideEra(t *testing.T) {
	x := nextEra(Era{}, []Server{{ID: "n1"}})
	y := nextEra(x, []Server{{ID: "n1"}})
	twin := nextEra(Era{}, []Server{{ID: "n2"}})
	restored := Era{Gen: 1, ID: [16]byte{5}}
	afterRestore := nextEra(restored, []Server{{ID: "n1"}})
	for _, tc := range []struct {
		name       string
		own        Era
		ownState   bool
		theirs     Era
		theirState bool
		want       eraVerdict
	}{
		{"era 0 on both sides", Era{}, true, Era{}, true, eraAccept},
		{"era 0 on both sides, one new", Era{}, false, Era{}, true, eraAccept},
		{"the same era", x, true, x, true, eraAccept},
		{"a new node meets an era", Era{}, false, x, true, eraAdopt},
		{"a new node that took an era meets another", x, false, twin, true, eraAdopt},
		{"a new node that took an era meets era 0", x, false, Era{}, true, eraAdopt},
		{"an era meets a new node", x, true, Era{}, false, eraAccept},
		{"a node of era 0 meets an era recovered from it", Era{}, true, x, true, eraSuperseded},
		{"a node meets an era recovered from its own", x, true, y, true, eraSuperseded},
		{"a recovered era meets a node of era 0", x, true, Era{}, true, eraOlder},
		{"a recovered era meets its parent", y, true, x, true, eraOlder},
		{"a node of era 0 meets a restored era", Era{}, true, restored, true, eraForeign},
		{"a restored era meets a node of era 0", restored, true, Era{}, true, eraForeign},
		{"two recovers with different servers", x, true, twin, true, eraForeign},
		{"a node two recovers back meets a recovered era", Era{}, true, y, true, eraSuperseded},
		{"a recovered era meets a node two recovers back", y, true, Era{}, true, eraOlder},
		{"a node of a restored era meets a recover of it", restored, true, afterRestore, true, eraSuperseded},
		{"a node of era 0 meets a recover of a restored era", Era{}, true, afterRestore, true, eraForeign},
	} {
		if got := decideEra(tc.own, tc.ownState, tc.theirs, tc.theirState); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNextEraIsTheSameOnEverySurvivor(t *testing.T) {
	a := nextEra(Era{}, []Server{{ID: "n1", Address: "h1:1"}, {ID: "n3", Address: "h3:1"}})
	b := nextEra(Era{}, []Server{{ID: "n3", Address: "other:2"}, {ID: "n1", Address: "h1:1"}})
	if a != b || a.Gen != 1 || a.IsZero() || !a.Recovered || !a.descends([16]byte{}) || a.parent() != (Era{}) {
		t.Fatalf("eras of two survivors recovered with the same servers: %v and %v", a, b)
	}
	if c := nextEra(Era{}, []Server{{ID: "n1"}}); c == a {
		t.Errorf("another list of servers gave the same era %v", c)
	}
	d := nextEra(a, []Server{{ID: "n1"}, {ID: "n3"}})
	if d.Gen != 2 || d == a || !d.descends(a.ID) || !d.descends([16]byte{}) || d.parent().ID != a.ID {
		t.Errorf("a recover after a recover: %v, want generation 2, descending from the first and from era 0", d)
	}
	if again := nextEra(d.parent(), []Server{{ID: "n3"}, {ID: "n1"}}); again != d {
		t.Errorf("the same recover from the parent an era knows of: %v, want %v", again, d)
	}
	// The ancestors are bounded: a node left out more recovers ago is
	// refused, not told.
	e := a
	for range maxAncestors + 3 {
		e = nextEra(e, []Server{{ID: "n1"}})
	}
	if len(e.Ancestors) != maxAncestors*16 || e.descends([16]byte{}) || !e.descends(e.parent().ID) {
		t.Errorf("after %d recovers: %d bytes of ancestors, descends from era 0: %v", maxAncestors+4, len(e.Ancestors), e.descends([16]byte{}))
	}
}

// eraSide is one node of a handshake test: a Raft directory, an era, and
// whether it holds Raft state.
type eraSide struct {
	id    string
	dir   string
	state atomic.Bool
	book  *eraBook
}

func newEraSide(t *testing.T, id string, era Era, state bool) *eraSide {
	t.Helper()
	s := &eraSide{id: id, dir: t.TempDir()}
	s.state.Store(state)
	if !era.IsZero() {
		made := "restore"
		if era.Recovered {
			made = "recover"
		}
		if err := writeEra(s.dir, recordOf(era, made, id)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := newEraBook(s.dir, id, s.state.Load, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if b.Era() != era {
		t.Fatalf("%s: era read back %v, want %v", id, b.Era(), era)
	}
	s.book = b
	return s
}

// shake runs a handshake between dialer and listener over a pipe, passed
// through relay when it is set, and returns each side's error.
func shake(t *testing.T, dialer, listener *eraSide, relay func(toListener bool, b []byte) []byte) (dErr, lErr error) {
	t.Helper()
	dc, lc := net.Pipe()
	if relay != nil {
		var mid1, mid2 net.Conn
		dc, mid1 = net.Pipe()
		mid2, lc = net.Pipe()
		go pump(mid1, mid2, func(b []byte) []byte { return relay(true, b) })
		go pump(mid2, mid1, func(b []byte) []byte { return relay(false, b) })
	}
	deadline := time.Now().Add(5 * time.Second)
	_ = dc.SetDeadline(deadline)
	_ = lc.SetDeadline(deadline)
	done := make(chan error, 1)
	go func() {
		_, _, err := handshake(lc, handshakeParams{secret: streamSecret, nodeID: listener.id, role: roleListener, era: listener.book})
		if err != nil {
			lc.Close()
		}
		done <- err
	}()
	_, _, dErr = handshake(dc, handshakeParams{secret: streamSecret, nodeID: dialer.id, role: roleDialer, era: dialer.book})
	if dErr != nil {
		dc.Close()
	}
	lErr = <-done
	dc.Close()
	lc.Close()
	return dErr, lErr
}

// pump copies from src to dst through f until either closes.
func pump(src, dst net.Conn, f func([]byte) []byte) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(f(append([]byte(nil), buf[:n]...))); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestHandshakeEras(t *testing.T) {
	x := nextEra(Era{}, []Server{{ID: "survivor"}})
	later := nextEra(x, []Server{{ID: "survivor"}})

	t.Run("era 0 on both sides", func(t *testing.T) {
		d, l := newEraSide(t, "d", Era{}, true), newEraSide(t, "l", Era{}, true)
		if dErr, lErr := shake(t, d, l, nil); dErr != nil || lErr != nil {
			t.Fatalf("dialer %v, listener %v", dErr, lErr)
		}
	})
	t.Run("a new node takes the era of the node that dials it", func(t *testing.T) {
		d, l := newEraSide(t, "d", x, true), newEraSide(t, "l", Era{}, false)
		if dErr, lErr := shake(t, d, l, nil); dErr != nil || lErr != nil {
			t.Fatalf("dialer %v, listener %v", dErr, lErr)
		}
		if l.book.Era() != x {
			t.Fatalf("the new node's era: %v, want %v", l.book.Era(), x)
		}
		rec, e, err := readEra(l.dir)
		if err != nil || e != x || rec.Made != "joined" || rec.By != "d" {
			t.Fatalf("the new node's era file: %+v %v %v", rec, e, err)
		}
		// Once it holds state, the era is its own: a node of era 0 with
		// state, the recovered era's parent, is refused next.
		l.state.Store(true)
		stale := newEraSide(t, "stale", Era{}, true)
		if dErr, lErr := shake(t, stale, l, nil); dErr == nil || lErr == nil {
			t.Fatalf("a node of era 0 dialing the joined node: dialer %v, listener %v; want both refused", dErr, lErr)
		}
	})
	t.Run("a node left out dials the later era", func(t *testing.T) {
		d, l := newEraSide(t, "stale", Era{}, true), newEraSide(t, "survivor", x, true)
		dErr, lErr := shake(t, d, l, nil)
		if !errors.Is(dErr, errSuperseded) || lErr == nil || !strings.Contains(lErr.Error(), "recover left out") {
			t.Fatalf("dialer %v, listener %v; want the dialer superseded, the listener refusing an earlier era", dErr, lErr)
		}
		s := d.book.Superseded()
		if s == nil || s.Peer != "survivor" || s.ID != x.ID || s.Token != x.Token() {
			t.Fatalf("the left-out node's record: %+v", s)
		}
		if l.book.Superseded() != nil {
			t.Fatal("the survivor was fenced")
		}
		// From then on it refuses everyone, its old peers included.
		old := newEraSide(t, "old", Era{}, true)
		if _, lErr := shake(t, old, d, nil); !errors.Is(lErr, errSuperseded) {
			t.Fatalf("a superseded node accepted a connection: %v", lErr)
		}
		if old.book.Superseded() != nil {
			t.Fatal("a superseded node's refusal fenced the peer it refused")
		}
	})
	t.Run("the later era dials a node left out", func(t *testing.T) {
		d, l := newEraSide(t, "survivor", later, true), newEraSide(t, "stale", x, true)
		dErr, lErr := shake(t, d, l, nil)
		if dErr == nil || !errors.Is(lErr, errSuperseded) || l.book.Superseded() == nil || d.book.Superseded() != nil {
			t.Fatalf("dialer %v, listener %v", dErr, lErr)
		}
	})
	t.Run("a restored cluster and the old nodes", func(t *testing.T) {
		// Neither gives way: a restore drill must not stop the cluster
		// its backup came from.
		d, l := newEraSide(t, "old", Era{}, true), newEraSide(t, "restored", Era{Gen: 1, ID: [16]byte{5}}, true)
		dErr, lErr := shake(t, d, l, nil)
		if dErr == nil || lErr == nil || d.book.Superseded() != nil || l.book.Superseded() != nil {
			t.Fatalf("dialer %v, listener %v; want both refused, neither superseded", dErr, lErr)
		}
	})
	t.Run("a node about to found a cluster on a restore", func(t *testing.T) {
		// No Raft state yet (it has not bootstrapped), but the era is its
		// own: an old node's dial does not replace it.
		d, l := newEraSide(t, "old", Era{}, true), newEraSide(t, "restored", Era{Gen: 1, ID: [16]byte{6}}, false)
		dErr, lErr := shake(t, d, l, nil)
		if dErr == nil || lErr == nil || l.book.Era() != (Era{Gen: 1, ID: [16]byte{6}}) {
			t.Fatalf("dialer %v, listener %v, era %v; want both refused, the restored era kept", dErr, lErr, l.book.Era())
		}
	})
	t.Run("two recovers with different servers", func(t *testing.T) {
		d, l := newEraSide(t, "a", x, true), newEraSide(t, "b", nextEra(Era{}, []Server{{ID: "b"}}), true)
		dErr, lErr := shake(t, d, l, nil)
		if dErr == nil || lErr == nil || d.book.Superseded() != nil || l.book.Superseded() != nil {
			t.Fatalf("dialer %v, listener %v; want both refused, neither superseded", dErr, lErr)
		}
	})
	t.Run("an era claimed without the secret", func(t *testing.T) {
		// A relay rewrites the era in the listener's proof (of a restore,
		// unrelated to the dialer's) to one recovered from the dialer's:
		// the proof covers it, so the dialer refuses the proof instead of
		// taking itself for left out.
		d := newEraSide(t, "stale", Era{}, true)
		l := newEraSide(t, "l", Era{Gen: 1, ID: [16]byte{5}}, true)
		var chunks atomic.Int32
		relay := func(toListener bool, b []byte) []byte {
			if toListener || chunks.Add(1) != 2 { // the listener's hello, then its proof
				return b
			}
			head := 1 + int(b[0])
			mac := b[len(b)-handshakeMACLen:]
			forged := append(append([]byte(nil), b[:head]...), eraHello{era: x, state: true}.block()...)
			return append(forged, mac...)
		}
		dErr, _ := shake(t, d, l, relay)
		if dErr == nil || !strings.Contains(dErr.Error(), "invalid proof") || d.book.Superseded() != nil {
			t.Fatalf("dialer %v, superseded %+v; want the forged proof refused, nobody superseded", dErr, d.book.Superseded())
		}
		if chunks.Load() < 2 {
			t.Fatal("the relay saw no proof from the listener")
		}
	})
}

func TestEraFileSurvivesAsWritten(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, eraFile), []byte(`{"gen":0,"id":"00"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readEra(dir); err == nil {
		t.Fatal("a malformed era file was read as an era")
	}
	e := nextEra(nextEra(Era{}, []Server{{ID: "n1"}}), []Server{{ID: "n1"}})
	if err := writeEra(dir, recordOf(e, "recover", "n1")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := readEra(dir); err != nil || got != e {
		t.Fatalf("read back %v, %v; want %v", got, err, e)
	}
}

// TestPeerConnEndsWithItsEra: a node without Raft state that takes another
// era hears nothing more on the connections of the first; a superseded
// node on none.
func TestPeerConnEndsWithItsEra(t *testing.T) {
	fresh := newEraSide(t, "fresh", Era{}, false)
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	conn := &PeerConn{Conn: a, peerID: "old", era: fresh.book, stamp: fresh.book.Era().ID}
	go func() { _, _ = b.Write([]byte("x")) }()
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read in the connection's era: %v", err)
	}
	x := nextEra(Era{}, []Server{{ID: "leader"}})
	if _, err := fresh.book.meet("leader", x, true); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, errEraChanged) {
		t.Fatalf("read after the node took another era: %v, want errEraChanged", err)
	}

	// Reached by a node of the zero era before any state came, it does
	// not take that era back while a connection of its own is open (a
	// request read on it could still reach Raft); once that one is
	// closed, it does: no file, as a node of a cluster founded as usual.
	if _, err := fresh.book.meet("other", Era{}, true); err == nil || !strings.Contains(err.Error(), "connections of era") || fresh.book.Era() != x {
		t.Fatalf("taking the zero era with a connection of its own open: %v, era %v", err, fresh.book.Era())
	}
	fresh.book.release(x.ID)
	if e, err := fresh.book.meet("other", Era{}, true); err != nil || !e.IsZero() || !fresh.book.Era().IsZero() {
		t.Fatalf("taking the zero era: %v, era %v", err, fresh.book.Era())
	}
	if _, e, err := readEra(fresh.dir); err != nil || !e.IsZero() {
		t.Fatalf("the era file after taking the zero era: %v, %v", e, err)
	}
	if _, err := os.Stat(filepath.Join(fresh.dir, eraFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an era file is left for the zero era: %v", err)
	}

	stale := newEraSide(t, "stale", Era{}, true)
	conn = &PeerConn{Conn: a, peerID: "old", era: stale.book, stamp: stale.book.Era().ID}
	if _, err := stale.book.meet("survivor", x, true); !errors.Is(err, errSuperseded) {
		t.Fatalf("meeting an era recovered from its own: %v", err)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, errEraChanged) {
		t.Fatalf("read on a superseded node: %v, want errEraChanged", err)
	}
	// It stays superseded across a restart, until a recover or a new
	// data dir.
	again, err := newEraBook(stale.dir, "stale", func() bool { return true }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || again.Superseded() == nil || again.Superseded().ID != x.ID || !again.Era().IsZero() {
		t.Fatalf("the left-out node restarted: %+v, era %v, %v", again.Superseded(), again.Era(), err)
	}
}
