package consensus

import (
	"errors"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// TestRecordLeftOut: a recover records the servers of the last
// configuration it does not keep, adds them to those an earlier recover
// left out, and drops any it lists again; the record survives reading
// back, and an answer carrying it names the node recovered.
func TestRecordLeftOut(t *testing.T) {
	dir := t.TempDir()
	conf := func(ids ...string) raft.Configuration {
		var c raft.Configuration
		for _, id := range ids {
			c.Servers = append(c.Servers, raft.Server{ID: raft.ServerID(id), Suffrage: raft.Voter})
		}
		return c
	}
	servers := func(ids ...string) []Server {
		var out []Server
		for _, id := range ids {
			out = append(out, Server{ID: id})
		}
		return out
	}
	now, err := recordLeftOut(dir, "n3", conf("n1", "n2", "n3"), servers("n3"))
	if err != nil || !slices.Equal(now, []string{"n1", "n2"}) {
		t.Fatalf("first recover left out %v, %v; want n1 and n2", now, err)
	}
	// A second recover, after n1 joined again and n4 was added: n2 stays
	// left out, n4 is left out now, n1 is kept.
	now, err = recordLeftOut(dir, "n3", conf("n1", "n3", "n4"), servers("n1", "n3"))
	if err != nil || !slices.Equal(now, []string{"n4"}) {
		t.Fatalf("second recover left out %v, %v; want n4", now, err)
	}
	lo, err := readLeftOut(dir)
	if err != nil || !slices.Equal(lo.IDs, []string{"n2", "n4"}) || lo.By != "n3" {
		t.Fatalf("record %+v, %v; want n2 and n4, by n3", lo, err)
	}
	// Keeping everyone leaves no record.
	if _, err := recordLeftOut(dir, "n3", conf("n3"), servers("n2", "n3", "n4")); err != nil {
		t.Fatal(err)
	}
	if lo, err := readLeftOut(dir); err != nil || len(lo.IDs) != 0 {
		t.Fatalf("record %+v, %v; want none", lo, err)
	}
	if by, ok := leftOutBy(errors.New("remote: " + leftOutError("n3").Error())); !ok || by != "n3" {
		t.Errorf("leftOutBy of the refusal = %q, %v; want n3", by, ok)
	}
	if _, ok := leftOutBy(errors.New("connection refused")); ok {
		t.Error("an unrelated error reads as left out")
	}
}
