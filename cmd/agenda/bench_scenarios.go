package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"
)

// benchScenario is one kind of load. setup prepares users and data
// through the API (not measured); op performs client w's k-th operation
// and returns its kind, its latency and whether it failed.
type benchScenario interface {
	setup(ctx context.Context, log io.Writer) error
	op(ctx context.Context, w, k int) (kind string, lat time.Duration, err error)
	params() map[string]any
	close()
}

func newBenchScenario(o benchOptions, api *benchAPI) benchScenario {
	switch o.Scenario {
	case "group":
		return &benchGroupScenario{o: o, api: api}
	case "read":
		return &benchReadScenario{o: o, api: api}
	case "mixed":
		return &benchMixedScenario{read: benchReadScenario{o: o, api: api}, create: benchCreateScenario{o: o, api: api}}
	case "ws":
		return &benchLiveScenario{o: o, api: api}
	}
	return &benchCreateScenario{o: o, api: api}
}

// benchEpoch is where the tool's appointments start: a Monday, far enough
// ahead to be in nobody's way. Users are new in every run, so runs never
// collide.
var benchEpoch = time.Date(2031, 1, 6, 0, 0, 0, 0, time.UTC)

// benchSlot is the n-th slot of a user: half an hour every hour, so no two
// overlap and a week holds 168.
func benchSlot(title string, n int) map[string]string {
	start := benchEpoch.Add(time.Duration(n) * time.Hour)
	return map[string]string{
		"title": title,
		"start": start.Format(time.RFC3339),
		"end":   start.Add(30 * time.Minute).Format(time.RFC3339),
	}
}

// benchWeekPath is the agenda of the week-th week after benchEpoch, read
// once the node has reached position (read-your-writes on any node).
func benchWeekPath(week int, position int64) string {
	from := benchEpoch.Add(time.Duration(week) * 7 * 24 * time.Hour)
	q := url.Values{"from": {from.Format(time.RFC3339)}, "to": {from.Add(7 * 24 * time.Hour).Format(time.RFC3339)}}
	if position > 0 {
		q.Set("min_position", fmt.Sprint(position))
	}
	return "/api/agenda?" + q.Encode()
}

// timed runs f and returns how long it took.
func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

// benchCreateScenario: each client creates personal appointments as its
// own user, one slot after the other.
type benchCreateScenario struct {
	o     benchOptions
	api   *benchAPI
	users []*benchUser
	slots []int // next slot of each client
	after benchPositions
}

func (s *benchCreateScenario) setup(ctx context.Context, log io.Writer) error {
	names := make([]string, s.o.Concurrency)
	for i := range names {
		names[i] = fmt.Sprintf("%s-c%d", s.o.Prefix, i)
	}
	fmt.Fprintf(log, "bench: registering %d users\n", len(names))
	var err error
	s.users, err = s.api.registerAll(ctx, names)
	s.slots = make([]int, s.o.Concurrency)
	s.after = newBenchPositions(s.o)
	return err
}

func (s *benchCreateScenario) op(ctx context.Context, w, _ int) (string, time.Duration, error) {
	n := s.slots[w]
	s.slots[w]++
	lat, err := timed(func() error {
		ans, err := s.api.callAfter(ctx, s.after.of(w), s.users[w], "POST", "/api/appointments", benchSlot("bench", n), false)
		s.after.wrote(w, ans, err)
		return err
	})
	return "create", lat, err
}

func (s *benchCreateScenario) params() map[string]any {
	return map[string]any{"carry_position": s.o.CarryPosition}
}
func (s *benchCreateScenario) close() {}

// benchGroupScenario: each client is the organiser (top rank) of its own
// hierarchical group of -members members who accepted their invitation;
// each operation imposes an appointment on all of them.
type benchGroupScenario struct {
	o      benchOptions
	api    *benchAPI
	bosses []*benchUser
	groups []string
	slots  []int
	after  benchPositions
}

func (s *benchGroupScenario) setup(ctx context.Context, log io.Writer) error {
	c, m := s.o.Concurrency, s.o.Members
	names := make([]string, 0, c*(m+1))
	for i := range c {
		names = append(names, fmt.Sprintf("%s-g%d", s.o.Prefix, i))
		for j := range m {
			names = append(names, fmt.Sprintf("%s-g%d-m%d", s.o.Prefix, i, j))
		}
	}
	fmt.Fprintf(log, "bench: registering %d users\n", len(names))
	users, err := s.api.registerAll(ctx, names)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "bench: forming %d groups of %d (invite, accept)\n", c, m+1)
	s.bosses = make([]*benchUser, c)
	s.groups = make([]string, c)
	s.slots = make([]int, c)
	s.after = newBenchPositions(s.o)
	return benchParallel(ctx, c, 16, func(ctx context.Context, i int) error {
		boss, members := users[i*(m+1)], users[i*(m+1)+1:(i+1)*(m+1)]
		var g struct {
			ID string `json:"id"`
		}
		if _, err := s.api.prepare(ctx, boss, "POST", "/api/groups", map[string]any{"name": boss.name, "hierarchical": true}, &g); err != nil {
			return err
		}
		for _, u := range members {
			// Membership is by consent: invited at rank 0, then accepted.
			if _, err := s.api.prepare(ctx, boss, "POST", "/api/groups/"+g.ID+"/members", map[string]any{"user_id": u.id, "rank": 0}, nil); err != nil {
				return err
			}
			if _, err := s.api.prepare(ctx, u, "POST", "/api/groups/"+g.ID+"/accept", nil, nil); err != nil {
				return err
			}
		}
		s.bosses[i], s.groups[i] = boss, g.ID
		return nil
	})
}

func (s *benchGroupScenario) op(ctx context.Context, w, _ int) (string, time.Duration, error) {
	n := s.slots[w]
	s.slots[w]++
	lat, err := timed(func() error {
		ans, err := s.api.callAfter(ctx, s.after.of(w), s.bosses[w], "POST", "/api/groups/"+s.groups[w]+"/appointments", benchSlot("bench meeting", n), false)
		s.after.wrote(w, ans, err)
		return err
	})
	return "group", lat, err
}

func (s *benchGroupScenario) params() map[string]any {
	return map[string]any{"members": s.o.Members, "carry_position": s.o.CarryPosition}
}
func (s *benchGroupScenario) close() {}

// benchReadScenario: every client reads one-week windows of one user's
// agenda; the user has -seed appointments, one an hour, stored first.
type benchReadScenario struct {
	o        benchOptions
	api      *benchAPI
	reader   *benchUser
	weeks    int   // weeks the seeded appointments fill
	position int64 // the last seeded write's, so every node has them all
}

func (s *benchReadScenario) setup(ctx context.Context, log io.Writer) error {
	u, err := s.api.register(ctx, s.o.Prefix+"-reader")
	if err != nil {
		return err
	}
	s.reader = u
	fmt.Fprintf(log, "bench: storing %d appointments for %s\n", s.o.Seed, u.name)
	var top atomic.Int64
	// One user's creates are decided one after the other (each checks the
	// agenda the one before changed): a few in flight keep the pipeline
	// full, more only collide.
	err = benchParallel(ctx, s.o.Seed, 4, func(ctx context.Context, i int) error {
		ans, err := s.api.prepare(ctx, u, "POST", "/api/appointments", benchSlot("seeded", i), nil)
		benchRaise(&top, ans.position)
		return err
	})
	s.position = top.Load()
	s.weeks = max(1, s.o.Seed/(7*24))
	return err
}

func (s *benchReadScenario) op(ctx context.Context, _, _ int) (string, time.Duration, error) {
	path := benchWeekPath(rand.IntN(s.weeks), s.position)
	lat, err := timed(func() error {
		_, err := s.api.call(ctx, s.reader, "GET", path, nil, false)
		return err
	})
	return "read", lat, err
}

func (s *benchReadScenario) params() map[string]any { return map[string]any{"seed": s.o.Seed} }
func (s *benchReadScenario) close()                 {}

// benchMixedScenario: -read-pct % of the operations are reads as in the
// read scenario, the rest creates as in the create scenario.
type benchMixedScenario struct {
	read   benchReadScenario
	create benchCreateScenario
}

func (s *benchMixedScenario) setup(ctx context.Context, log io.Writer) error {
	if err := s.create.setup(ctx, log); err != nil {
		return err
	}
	return s.read.setup(ctx, log)
}

func (s *benchMixedScenario) op(ctx context.Context, w, k int) (string, time.Duration, error) {
	if rand.IntN(100) < s.read.o.ReadPct {
		return s.read.op(ctx, w, k)
	}
	return s.create.op(ctx, w, k)
}

func (s *benchMixedScenario) params() map[string]any {
	return map[string]any{"seed": s.read.o.Seed, "read_pct": s.read.o.ReadPct, "carry_position": s.read.o.CarryPosition}
}
func (s *benchMixedScenario) close() {}

// benchPositions is the position each client's last write answered, which
// its next write asks its node to have reached (benchOptions.CarryPosition);
// nil when not carried. A client's slot is its own goroutine's.
type benchPositions []int64

func newBenchPositions(o benchOptions) benchPositions {
	if !o.CarryPosition {
		return nil
	}
	return make(benchPositions, o.Concurrency)
}

// of is what client w's next write asks for (0: nothing).
func (p benchPositions) of(w int) int64 {
	if p == nil {
		return 0
	}
	return p[w]
}

// wrote records the position client w's write answered.
func (p benchPositions) wrote(w int, ans benchAnswer, err error) {
	if p != nil && err == nil {
		p[w] = max(p[w], ans.position)
	}
}

// benchRaise sets *v to p if p is higher.
func benchRaise(v *atomic.Int64, p int64) {
	for {
		old := v.Load()
		if p <= old || v.CompareAndSwap(old, p) {
			return
		}
	}
}
