package commands

import (
	"context"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
)

// A form above the cluster's level is a command bug, refused before it is
// proposed: a node below that level would halt on it.
func TestBatchRefusesFormsAboveTheClusterLevel(t *testing.T) {
	for _, tc := range []struct {
		level   int
		follows bool
		wantErr bool
	}{
		{level: 1, follows: false, wantErr: true},
		{level: 1, follows: true},
		{level: 2, follows: false},
		{level: 2, follows: true},
	} {
		h := &Handlers{Level: func() int { return tc.level }, NodeID: "n"}
		b := h.newBatch(context.Background(), "dan")
		b.expect(events.GroupStream("g"), 0)
		b.add(events.GroupStream("g"), events.GroupCreated{GroupID: "g", Name: "G", CreatorID: "dan", CreatorFollows: tc.follows})
		if got := b.err != nil; got != tc.wantErr {
			t.Errorf("level %d, creator follows %v: err = %v, want an error: %v", tc.level, tc.follows, b.err, tc.wantErr)
		}
		if b.err != nil && !strings.Contains(b.err.Error(), "level 1") {
			t.Errorf("err = %v, want it to name the level", b.err)
		}
		if tc.wantErr && len(b.b.Events) != 0 {
			t.Errorf("the refused event was added: %+v", b.b.Events)
		}
	}
}
