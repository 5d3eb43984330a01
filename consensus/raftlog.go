package consensus

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// raftLogEvery is how often one hashicorp/raft message is logged at most:
// with a peer down, a leader says "failed to heartbeat" some 220 times a
// minute (an operations review found them flooding the log).
const raftLogEvery = 10 * time.Second

// newRaftLogger is hashicorp/raft's logger: its lines go to the node's own
// slog logger, in the node's format and under its LOG_LEVEL, rather than
// to stderr in hclog's, from floor up, each message at most once per
// raftLogEvery (the next says how many were left out).
func newRaftLogger(l *slog.Logger, floor hclog.Level) hclog.Logger {
	il := hclog.NewInterceptLogger(&hclog.LoggerOptions{Name: "raft", Level: floor, Output: io.Discard})
	il.RegisterSink(newRaftSink(l, floor, time.Now))
	return il
}

func newRaftSink(l *slog.Logger, floor hclog.Level, now func() time.Time) *raftSink {
	return &raftSink{l: l, floor: floor, now: now, last: map[string]time.Time{}, left: map[string]int{}}
}

// raftSink forwards hclog lines into slog; hclog hands a sink every line,
// whatever its level, so it filters them itself.
type raftSink struct {
	l     *slog.Logger
	floor hclog.Level
	now   func() time.Time
	mu    sync.Mutex
	last  map[string]time.Time // when each message was last logged
	left  map[string]int       // how many of it were left out since
}

// peerUnreachable are the errors hashicorp/raft logs when a peer does not
// answer: routine while a node restarts or is rolled to a new build (an
// operator's walk-through found every rolling update logging them at
// ERROR, which alerts). They are logged as warnings; a peer gone for good
// shows in /cluster/status and in the reaper's removal.
var peerUnreachable = map[string]bool{
	"failed to appendEntries to":     true,
	"failed to heartbeat to":         true,
	"failed to make requestVote RPC": true,
}

func (s *raftSink) Accept(name string, level hclog.Level, msg string, args ...any) {
	if level < s.floor || level == hclog.Off {
		return
	}
	lvl := slogLevel(level)
	if peerUnreachable[msg] && lvl > slog.LevelWarn {
		lvl = slog.LevelWarn
	}
	if !s.l.Enabled(context.Background(), lvl) {
		return
	}
	s.mu.Lock()
	now := s.now()
	if t, ok := s.last[msg]; ok && now.Sub(t) < raftLogEvery {
		s.left[msg]++
		s.mu.Unlock()
		return
	}
	left := s.left[msg]
	s.last[msg], s.left[msg] = now, 0
	s.mu.Unlock()
	args = append(args, "component", name)
	if left > 0 {
		args = append(args, "left_out_since", left)
	}
	s.l.Log(context.Background(), lvl, msg, args...)
}

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l >= hclog.Error:
		return slog.LevelError
	case l == hclog.Warn:
		return slog.LevelWarn
	case l == hclog.Info:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}
