package projections_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/projections"
	"github.com/agendahq/agenda/readmodel"
)

// heldSource is an event source whose reads wait, while held, until
// released: a rebuild started then stays running for as long as the test
// needs.
type heldSource struct {
	projections.EventSource
	held    atomic.Bool
	release chan struct{}
}

func (s *heldSource) ReadTypes(ctx context.Context, after, upTo int64, limit int, types []string) ([]events.Envelope, int64, error) {
	if s.held.Load() {
		<-s.release
	}
	return s.EventSource.ReadTypes(ctx, after, upTo, limit, types)
}

// One rebuild runs at a time on a node: another, of any projection, is a
// conflict until it has ended. (The e2e test over HTTP cannot hold a
// rebuild running, and on a fast machine a small one ends before the
// second request.)
func TestASecondRebuildWhileOneRunsIsAConflict(t *testing.T) {
	store := mustOpenStore(t)
	rm := mustOpenReadModel(t, filepath.Join(t.TempDir(), "readmodel.db"))
	src := &heldSource{EventSource: store, release: make(chan struct{})}
	p, err := projections.New(src, rm, projections.All(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan projections.RebuildProgress, 2)
	p.OnRebuild = func(pr projections.RebuildProgress) { ended <- pr }
	rp := &runningProjector{Projector: p, done: make(chan error, 1)}
	go func() { rp.done <- p.Run(context.Background()) }()
	<-p.Running()
	t.Cleanup(func() { rp.stop(t) })
	waitProjected(t, rm, scenario(newEventLog(t, store), 20))

	src.held.Store(true)
	if _, err := p.StartRebuild(readmodel.ProjectionPlanning); err != nil {
		t.Fatalf("first rebuild: %v", err)
	}
	for _, name := range []string{readmodel.ProjectionUsers, readmodel.ProjectionPlanning} {
		_, err := p.StartRebuild(name)
		if agenda.ErrorCode(err) != agenda.ECONFLICT {
			t.Errorf("rebuild of %s while planning's runs: %v, want conflict", name, err)
		}
	}
	src.held.Store(false)
	close(src.release)
	select {
	case pr := <-ended:
		if pr.Projection != readmodel.ProjectionPlanning || pr.State != "done" {
			t.Fatalf("rebuild ended as %+v", pr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the rebuild did not end")
	}
	if _, err := p.StartRebuild(readmodel.ProjectionUsers); err != nil {
		t.Errorf("a rebuild once the other ended: %v", err)
	}
	<-ended
}
