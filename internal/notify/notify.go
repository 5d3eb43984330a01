// Package notify wakes goroutines waiting for a monotonically increasing
// position (an event store head, a projection checkpoint) to reach a target.
// Each waiter is woken once, when its own target is reached, rather than on
// every advance: with many requests waiting for read-your-writes, waking all
// of them on every commit costs more than the commit.
package notify

import (
	"container/heap"
	"context"
	"sync"
)

// Position is a monotonically increasing counter with waiters.
type Position struct {
	mu      sync.Mutex
	value   int64
	waiters waiterHeap
}

type waiter struct {
	target int64
	ch     chan struct{}
	index  int
}

// Get returns the current value.
func (p *Position) Get() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.value
}

// Set moves the value (never backwards, unless reset is true) and wakes the
// waiters whose target it reaches.
func (p *Position) Set(v int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v <= p.value {
		return
	}
	p.value = v
	for len(p.waiters) > 0 && p.waiters[0].target <= v {
		w := heap.Pop(&p.waiters).(*waiter)
		close(w.ch)
	}
}

// Reset sets the value to v even if that moves it backwards.
func (p *Position) Reset(v int64) {
	p.mu.Lock()
	p.value = v
	p.mu.Unlock()
}

// Wait blocks until the value reaches target or ctx ends (returning its error).
func (p *Position) Wait(ctx context.Context, target int64) error {
	p.mu.Lock()
	if p.value >= target {
		p.mu.Unlock()
		return nil
	}
	w := &waiter{target: target, ch: make(chan struct{})}
	heap.Push(&p.waiters, w)
	p.mu.Unlock()
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		if w.index >= 0 {
			heap.Remove(&p.waiters, w.index)
		}
		p.mu.Unlock()
		select {
		case <-w.ch:
			return nil
		default:
		}
		return ctx.Err()
	}
}

type waiterHeap []*waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].target < h[j].target }
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	w.index = -1
	*h = old[:n-1]
	return w
}
