package main

import (
	"context"
	"testing"
	"time"

	agendahttp "github.com/agendahq/agenda/http"
)

// TestReadinessToleratesATransientLag: a node that trails the log just
// after being caught up stays ready; one that trails longer, never caught
// up since it started, or is not ready for another reason, is not.
func TestReadinessToleratesATransientLag(t *testing.T) {
	c := newReadyClock()
	t0 := c.start.Add(time.Hour)
	ready := agendahttp.Readiness{Ready: true, Position: 10, Head: 10}
	trailing := func(reason string) agendahttp.Readiness {
		return agendahttp.Readiness{Position: 9, Head: 10, Reason: reason}
	}
	if got := c.judge(trailing(reasonApplying), t0); got.Ready || got.Status != "not_ready" {
		t.Errorf("trailing before ever caught up (replaying after a start): %+v, want not ready", got)
	}
	if got := c.judge(ready, t0); !got.Ready || !got.CaughtUp || got.Status != "ready" {
		t.Errorf("caught up: %+v, want ready", got)
	}
	for _, reason := range []string{reasonApplying, reasonProjecting} {
		got := c.judge(trailing(reason), t0.Add(readyGrace-time.Millisecond))
		if !got.Ready || got.CaughtUp || got.Reason != "" || got.Status != "ready" {
			t.Errorf("%q just after being caught up: %+v, want ready, not caught up", reason, got)
		}
		if got := c.judge(trailing(reason), t0.Add(readyGrace)); got.Ready || got.Reason != reason {
			t.Errorf("%q for the whole grace: %+v, want not ready", reason, got)
		}
	}
	for _, reason := range []string{"no leader known", reasonAwaitingCommit} {
		if got := c.judge(trailing(reason), t0.Add(time.Millisecond)); got.Ready {
			t.Errorf("%q just after being caught up: %+v, want not ready", reason, got)
		}
	}
}

// TestReadinessIsSampled: the grace counts from when the node was last
// caught up, which the node samples itself, not from the last probe (a
// review found probes 1.5 s apart forgiven nothing).
func TestReadinessIsSampled(t *testing.T) {
	c := newReadyClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.sample(ctx, func() agendahttp.Readiness { return agendahttp.Readiness{Ready: true} })
	}()
	time.Sleep(3 * readySample)
	cancel()
	<-done
	// No probe ran: the sampler alone noted the node caught up, so a lag
	// right after is forgiven.
	got := c.judge(agendahttp.Readiness{Position: 9, Head: 10, Reason: reasonProjecting}, time.Now())
	if !got.Ready {
		t.Errorf("a lag just after the sampler saw the node caught up: %+v, want ready", got)
	}
}
