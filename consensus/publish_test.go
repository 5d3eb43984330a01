package consensus

import (
	"sync/atomic"
	"testing"
	"time"
)

// Publishes while a barrier runs coalesce into exactly one more barrier
// (the running one may predate the newest commit), and none run after
// close.
func TestCommitPublisherCoalesces(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 16)
	var runs atomic.Int32
	p := &commitPublisher{barrier: func() {
		runs.Add(1)
		started <- struct{}{}
		<-release
	}}

	p.publish()
	<-started // the first barrier is running
	for range 5 {
		p.publish()
	}
	release <- struct{}{} // first done: the coalesced second starts
	<-started
	release <- struct{}{}
	waitIdle(t, p)
	if got := runs.Load(); got != 2 {
		t.Fatalf("%d barriers for 6 publishes during one barrier, want 2", got)
	}

	p.publish() // idle again: runs at once
	<-started
	release <- struct{}{}
	waitIdle(t, p)
	if got := runs.Load(); got != 3 {
		t.Fatalf("%d barriers, want 3", got)
	}

	p.close()
	p.publish()
	select {
	case <-started:
		t.Fatal("a barrier ran after close")
	case <-time.After(50 * time.Millisecond):
	}
}

func waitIdle(t *testing.T, p *commitPublisher) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		running := p.running
		p.mu.Unlock()
		if !running {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("publisher still running after 5s")
		}
		time.Sleep(time.Millisecond)
	}
}
