package notify

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestWaitWakesOnlyReachedTargets(t *testing.T) {
	var p Position
	var wg sync.WaitGroup
	woke := make([]bool, 5)
	var mu sync.Mutex
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func(target int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			if p.Wait(ctx, int64(target)) == nil {
				mu.Lock()
				woke[target] = true
				mu.Unlock()
			}
		}(i)
	}
	time.Sleep(50 * time.Millisecond)
	p.Set(2)
	wg.Wait()
	want := []bool{false, true, true, false, false}
	for i := range want {
		if woke[i] != want[i] {
			t.Fatalf("target %d woke = %v, want %v", i, woke[i], want[i])
		}
	}
	if n := len(p.waiters); n != 0 {
		t.Fatalf("%d waiters left registered after timeouts, want 0", n)
	}
}

func TestSetNeverMovesBackwards(t *testing.T) {
	var p Position
	p.Set(5)
	p.Set(3)
	if got := p.Get(); got != 5 {
		t.Fatalf("Get = %d, want 5", got)
	}
	if err := p.Wait(context.Background(), 4); err != nil {
		t.Fatalf("Wait(4) at 5: %v", err)
	}
	p.Reset(0)
	if got := p.Get(); got != 0 {
		t.Fatalf("after Reset(0) Get = %d, want 0", got)
	}
}
