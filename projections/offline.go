package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/readmodel"
)

// RebuildOffline rebuilds the given projections of the read model file at
// path, on a stopped node (`agenda projections rebuild`): every one of them
// is projected from the event store into one new file, the projections not
// asked for are copied into it as they are, and the new file is renamed over
// the old one. Nothing serves from the file meanwhile, so no row is copied
// into the old file: the rename is the switch, and it is atomic.
//
// progress is called after every batch of every projection. It returns one
// RebuildProgress per projection, in order; if it fails, the file at path is
// left as it was.
func RebuildOffline(ctx context.Context, source EventSource, path string, projs []Projection, progress func(RebuildProgress), opts ...RebuildOption) ([]RebuildProgress, error) {
	var o rebuildOptions
	for _, opt := range opts {
		opt(&o)
	}
	out := make([]RebuildProgress, len(projs))
	chosen := map[string]bool{}
	for i, proj := range projs {
		out[i] = RebuildProgress{Projection: proj.Name(), State: "building", StartedAt: time.Now().UTC()}
		if _, ok := readmodel.Tables(proj.Name()); !ok {
			return out, fail(&out[i], progress, agenda.Errorf(agenda.ENOTFOUND, "no projection %q", proj.Name()))
		}
		chosen[proj.Name()] = true
	}
	// Open (and close) the live file first: one written with another schema
	// version is discarded here, as a node would at start.
	live, err := readmodel.Open(ctx, path)
	if err != nil {
		return out, err
	}
	live.Close()
	scratchPath := readmodel.ScratchPath(path, "offline")
	scratch, err := readmodel.OpenScratch(ctx, scratchPath)
	if err != nil {
		return out, err
	}
	installed := false
	defer func() {
		if !installed {
			scratch.Close()
		}
		readmodel.RemoveFile(scratchPath)
	}()
	scratch.SetFeedRetention(o.feedRetention)
	stopFlushing := scratch.FlushInBackground(time.Second)
	defer stopFlushing()
	head, _ := source.Watch()
	for i, proj := range projs {
		pr := &out[i]
		pr.StartedAt = time.Now().UTC()
		omitPrunedFeed(scratch, proj, head)
		err := build(ctx, source, proj, scratch, head, func(pos, target int64) {
			pr.Position, pr.Target = pos, max(target, pr.Target)
			report(pr, progress)
		})
		if err != nil {
			return out, fail(pr, progress, err)
		}
		pr.State = "switching"
		report(pr, progress)
	}
	for _, name := range readmodel.Projections {
		if !chosen[name] {
			if err := scratch.CopyProjection(ctx, path, name); err != nil {
				return out, fmt.Errorf("carry %s over: %w", name, err)
			}
		}
	}
	began := time.Now()
	if err := scratch.CreateDeferredIndexes(ctx); err != nil {
		return out, err
	}
	err = stopFlushing()
	if err == nil {
		err = scratch.InstallAt(path)
	}
	if err != nil {
		for i := range out {
			fail(&out[i], progress, err)
		}
		return out, err
	}
	installed = true
	paused := time.Since(began).Seconds()
	now := time.Now().UTC()
	for i := range out {
		out[i].State, out[i].FinishedAt, out[i].PausedSeconds = "done", &now, paused
		report(&out[i], progress)
	}
	return out, nil
}

// RebuildOption adjusts an offline rebuild.
type RebuildOption func(*rebuildOptions)

type rebuildOptions struct {
	feedRetention int64
}

// WithFeedRetention rebuilds a read model that keeps n positions of feed
// (readmodel.DB.SetFeedRetention) rather than the default: the node that
// serves it must keep as many, or its feed is not the one a live projection
// would hold.
func WithFeedRetention(n int64) RebuildOption {
	return func(o *rebuildOptions) { o.feedRetention = n }
}

// report computes the rate of pr and passes it to progress.
func report(pr *RebuildProgress, progress func(RebuildProgress)) {
	end := time.Now()
	if pr.FinishedAt != nil {
		end = *pr.FinishedAt
	}
	if el := end.Sub(pr.StartedAt).Seconds(); el > 0 {
		pr.EventsPerSecond = float64(pr.Position) / el
	}
	if progress != nil {
		progress(*pr)
	}
}

// fail marks pr failed with err, reports it, and returns err wrapped.
func fail(pr *RebuildProgress, progress func(RebuildProgress), err error) error {
	now := time.Now().UTC()
	pr.State, pr.Error, pr.FinishedAt = "failed", err.Error(), &now
	report(pr, progress)
	return fmt.Errorf("rebuild %s: %w", pr.Projection, err)
}
