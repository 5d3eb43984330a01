package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/readmodel"
)

// RebuildProgress describes a blue/green rebuild of one projection.
type RebuildProgress struct {
	Projection string `json:"projection"`
	// State is "building" (projecting the event store into new tables
	// beside the live ones), "switching" (catching up the last events and
	// swapping the tables in), "done" or "failed".
	State string `json:"state"`
	// Position is how far the new tables have been projected, Target the
	// event store's head it is chasing.
	Position        int64      `json:"position"`
	Target          int64      `json:"target"`
	EventsPerSecond float64    `json:"events_per_second"`
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      *time.Time `json:"finished_at,omitempty"`
	// PausedSeconds is how long the live projection was paused for the
	// switch (catching up the last events and swapping the tables in).
	PausedSeconds float64 `json:"paused_seconds"`
	Error         string  `json:"error,omitempty"`
}

// Rebuild tuning: positions examined per read, events per transaction, and
// how close to the head the new tables must be before the switch (the live
// projection pauses while the switch catches up that last stretch).
const (
	rebuildScan  = 65536
	rebuildBatch = 8192
	rebuildTx    = 65536
	switchWithin = 4096
)

// RebuildInto rebuilds projection proj of the live read model blue/green:
// it projects the whole event store into a scratch read model beside the
// live one (which keeps serving, and keeps being projected, meanwhile),
// chases the head until it is close, then switches the new tables in,
// atomically, under the live projector's write lock (readmodel.SwitchFrom).
// progress is called after every batch. The scratch file is removed
// whatever happens; a failed rebuild leaves the live tables untouched.
//
// Only proj.Handle runs, into the scratch tables: a rebuild has no effect
// outside them, so nothing a projection derives (notifications, feed
// entries) is produced twice, and nothing is pushed to anyone.
//
// The clock is read here only to report a rate; what is projected never
// depends on it.
func RebuildInto(ctx context.Context, source EventSource, live *readmodel.DB, proj Projection, progress func(RebuildProgress)) (RebuildProgress, error) {
	name := proj.Name()
	pr := RebuildProgress{Projection: name, State: "building", StartedAt: time.Now().UTC()}
	failed := func(err error) (RebuildProgress, error) {
		err = fail(&pr, progress, err)
		return pr, err
	}
	if _, ok := readmodel.Tables(name); !ok {
		return failed(agenda.Errorf(agenda.ENOTFOUND, "no projection %q", name))
	}
	path := readmodel.ScratchPath(live.Path(), name)
	scratch, err := readmodel.OpenScratch(ctx, path)
	if err != nil {
		return failed(err)
	}
	defer func() {
		scratch.Close()
		readmodel.RemoveFile(path)
	}()
	scratch.SetFeedRetention(live.FeedRetention())
	head, _ := source.Watch()
	omitPrunedFeed(scratch, proj, head)
	onBatch := func(pos, target int64) {
		pr.Position, pr.Target = pos, max(target, pr.Target)
		report(&pr, progress)
	}
	indexed := false
	for {
		if err := build(ctx, source, proj, scratch, head, onBatch); err != nil {
			return failed(err)
		}
		head, _ = source.Watch()
		if head-scratch.Checkpoint(name) > switchWithin {
			continue
		}
		if indexed {
			break
		}
		// Close to the head: build the indexes the scratch file left out,
		// before the switch rather than during it. With the same indexes
		// on both sides, the switch's INSERT … SELECT * copies each
		// table's records and index entries as they are (SQLite's
		// transfer optimisation) instead of inserting row by row and
		// updating every index, under the live projector's write lock.
		// Then catch up with what was appended meanwhile.
		if err := scratch.CreateDeferredIndexes(ctx); err != nil {
			return failed(err)
		}
		indexed = true
	}
	pr.State = "switching"
	report(&pr, progress)
	var paused time.Time
	pos, err := live.SwitchFrom(ctx, name, scratch, func(liveAt int64) error {
		paused = time.Now()
		return build(ctx, source, proj, scratch, liveAt, onBatch)
	})
	if !paused.IsZero() {
		pr.PausedSeconds = time.Since(paused).Seconds()
	}
	if err != nil {
		return failed(err)
	}
	now := time.Now().UTC()
	pr.State, pr.Position, pr.FinishedAt = "done", pos, &now
	pr.Target = max(pr.Target, pos)
	report(&pr, progress)
	return pr, nil
}

// omitPrunedFeed spares a rebuild of the projection that owns the feed the
// entries that the checkpoint it is about to reach, head or later, prunes
// (readmodel.OmitFeedThrough): with the default retention, all but the last
// 250,000 positions of the log.
func omitPrunedFeed(scratch *readmodel.DB, proj Projection, head int64) {
	if readmodel.OwnsFeed(proj.Name()) {
		scratch.OmitFeedThrough(scratch.FeedFloor(head))
	}
}

// build projects the event store into scratch, from its checkpoint up to
// position until. Reading runs one batch ahead of applying, so the two
// overlap.
func build(ctx context.Context, source EventSource, proj Projection, scratch *readmodel.DB, until int64, onBatch func(pos, target int64)) error {
	name := proj.Name()
	types := proj.EventTypes()
	type batch struct {
		from, to int64
		envs     []events.Envelope
		evs      []events.Event
		err      error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 8)
	go func() {
		defer close(batches)
		from := scratch.Checkpoint(name)
		for from < until {
			upTo := min(until, from+rebuildScan)
			envs, to, err := source.ReadTypes(context.WithoutCancel(ctx), from, upTo, rebuildBatch, types)
			if err == nil && to <= from {
				err = fmt.Errorf("event store returned nothing after %d (head %d)", from, until)
			}
			var evs []events.Event
			if err == nil {
				evs = make([]events.Event, len(envs))
				for i := range envs {
					if evs[i], err = decodeCommitted(&envs[i]); err != nil {
						break
					}
				}
			}
			select {
			case batches <- batch{from, to, envs, evs, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			from = to
		}
	}()
	for b := range batches {
		if b.err != nil {
			return fmt.Errorf("read event store: %w", b.err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// One transaction for every batch already read, up to
		// rebuildTx events: fewer, larger commits write each hot page
		// (an index's last leaf, say) once instead of once per batch.
		group := []batch{b}
		n := len(b.envs)
	more:
		for n < rebuildTx {
			select {
			case nb, ok := <-batches:
				if !ok {
					break more
				}
				if nb.err != nil {
					return fmt.Errorf("read event store: %w", nb.err)
				}
				group = append(group, nb)
				n += len(nb.envs)
			default:
				break more
			}
		}
		from, to := group[0].from, group[len(group)-1].to
		err := scratch.Apply(context.WithoutCancel(ctx), name, from, to, func(tx *readmodel.Tx) error {
			for _, g := range group {
				if err := handleAll(tx, proj, g.envs, g.evs); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		onBatch(to, until)
	}
	return ctx.Err()
}

// StartRebuild starts an online blue/green rebuild of the named projection
// and returns at once; its progress shows in Status. One rebuild runs at a
// time on a node: another while it runs is ECONFLICT, an unknown name
// ENOTFOUND. The rebuild is local to this node: it reads the local event
// store and changes only the local read model.
func (p *Projector) StartRebuild(name string) (RebuildProgress, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	proj, ok := p.projs[name]
	if !ok {
		return RebuildProgress{}, agenda.Errorf(agenda.ENOTFOUND, "no projection %q", name)
	}
	if r := p.rebuild; r != nil {
		return RebuildProgress{}, agenda.Errorf(agenda.ECONFLICT, "a rebuild of %q is already running", r.Projection).
			WithDetails(map[string]any{"projection": r.Projection})
	}
	if p.status[name].State == "stopped" {
		return RebuildProgress{}, agenda.Errorf(agenda.ECONFLICT, "projection %q is stopped; restart the node to retry it", name)
	}
	if p.rebuildCtx.Err() != nil {
		return RebuildProgress{}, agenda.Errorf(agenda.EUNAVAILABLE, "the node is shutting down")
	}
	head, _ := p.source.Watch()
	p.rebuild = &RebuildProgress{Projection: name, State: "building", Target: head, StartedAt: time.Now().UTC()}
	started := *p.rebuild
	p.rebuildWG.Add(1)
	go func() {
		defer p.rebuildWG.Done()
		// One start time, the one the request was answered with (a review
		// saw the status give another, read a moment later by RebuildInto).
		final, err := RebuildInto(p.rebuildCtx, p.source, p.rm, proj, func(pr RebuildProgress) {
			pr.StartedAt = started.StartedAt
			p.mu.Lock()
			p.rebuild = &pr
			p.mu.Unlock()
		})
		final.StartedAt = started.StartedAt
		if err != nil {
			p.logger.Error("projection rebuild failed; the live tables are unchanged", "projection", name, "err", err)
		} else {
			p.logger.Info("projection rebuilt", "projection", name, "position", final.Position,
				"seconds", final.FinishedAt.Sub(final.StartedAt).Seconds(), "events_per_second", int(final.EventsPerSecond))
		}
		p.mu.Lock()
		p.rebuild = nil
		p.lastRebuild[name] = &final
		hook := p.OnRebuild
		p.mu.Unlock()
		if hook != nil {
			hook(final)
		}
	}()
	return started, nil
}
