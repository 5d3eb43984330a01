package commands_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/agendahq/agenda/commands"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/eventstore"
)

// storeLog commits batches to a real event store, as the Raft FSM does. The
// first batch commits but is answered ErrOutcomeUnknown, as when leadership
// is lost between commit and reply.
type storeLog struct {
	store *eventstore.Store

	mu      sync.Mutex
	results []error // what the store answered to each proposal
}

func (l *storeLog) Propose(ctx context.Context, b events.Batch) (events.Committed, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tx, err := l.store.Begin(ctx)
	if err != nil {
		return events.Committed{}, err
	}
	defer tx.Rollback()
	c, err := tx.Append(b)
	l.results = append(l.results, err)
	if err != nil {
		return events.Committed{}, err
	}
	if err := tx.Commit(); err != nil {
		return events.Committed{}, err
	}
	if len(l.results) == 1 {
		return events.Committed{}, events.ErrOutcomeUnknown
	}
	return c, nil
}

// TestOutcomeUnknownAgainstTheEventStore re-proposes a batch that did commit
// to a real event store: the command must succeed, as the handler's
// duplicate rule promises.
func TestOutcomeUnknownAgainstTheEventStore(t *testing.T) {
	ctx := context.Background()
	store, err := eventstore.Open(ctx, filepath.Join(t.TempDir(), "events.db"))
	if err != nil {
		t.Fatalf("open event store: %v", err)
	}
	defer store.Close()
	log := &storeLog{store: store}
	h := newHandlers(log, newFakeRead())

	res, err := h.RegisterUser(ctx, commands.RegisterUser{Username: "carla", Password: password})

	log.mu.Lock()
	results := append([]error(nil), log.results...)
	log.mu.Unlock()
	var vc *events.VersionConflictError
	if len(results) >= 2 && results[0] == nil && errors.As(results[1], &vc) {
		t.Fatalf("re-proposing the committed batch got %v from the event store, not a DuplicateEventError: "+
			"the store must check event IDs before expected versions, or the rule in commands/execute.go "+
			"never fires; the handler decided again and answered %v although the user was registered", results[1], err)
	}
	if err != nil {
		t.Fatalf("RegisterUser after an unknown outcome: %v (store answers %v)", err, results)
	}
	if res.Position != 2 {
		t.Errorf("result position = %d, want 2 (the first, committed, attempt)", res.Position)
	}
	if head := store.Head(); head != 2 {
		t.Errorf("event store head = %d, want 2: the user was registered twice", head)
	}
}
