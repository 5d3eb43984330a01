package consensus

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hashicorp/raft's lines reach the node's slog logger, in its format, from
// the floor up, each message at most once per raftLogEvery with a count of
// those left out: an operations review found some 220 "failed to
// heartbeat" lines a minute, in hclog's format, that LOG_LEVEL could not
// quiet.
func TestRaftLinesGoThroughTheNodeLogger(t *testing.T) {
	var out bytes.Buffer
	l := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	clock := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	rl := newRaftLogger(l, hclog.Error)
	sink := newRaftSink(l, hclog.Error, func() time.Time { return clock })
	// Through hclog, as raft calls it, and the sink's clock moved by hand.
	rl.Error("failed to heartbeat", "peer", "n2")
	rl.Warn("heartbeat timeout reached") // below the floor
	if got := out.String(); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, `msg="failed to heartbeat"`) ||
		!strings.Contains(got, "peer=n2") || !strings.Contains(got, "component=raft") || strings.Contains(got, "heartbeat timeout") {
		t.Errorf("through hclog: %q", got)
	}
	out.Reset()
	for range 220 {
		sink.Accept("raft", hclog.Error, "failed to heartbeat", "peer", "n2")
		clock = clock.Add(time.Minute / 220)
	}
	lines := strings.Count(out.String(), "\n")
	if lines < 6 || lines > 7 {
		t.Errorf("220 lines in a minute logged as %d, want one per %v:\n%s", lines, raftLogEvery, out.String())
	}
	if !strings.Contains(out.String(), "left_out_since=") {
		t.Errorf("the lines say nothing of those left out:\n%s", out.String())
	}
	out.Reset()
	sink.Accept("raft", hclog.Error, "another message")
	if !strings.Contains(out.String(), "another message") {
		t.Errorf("a new message was held back with the others: %q", out.String())
	}
	// A peer that does not answer is routine (a restart, a rolling
	// update): a warning, not an error that alerts.
	out.Reset()
	for _, msg := range []string{"failed to appendEntries to", "failed to heartbeat to", "failed to make requestVote RPC"} {
		sink.Accept("raft", hclog.Error, msg, "peer", "n3")
	}
	if got := out.String(); strings.Contains(got, "level=ERROR") || strings.Count(got, "level=WARN") != 3 {
		t.Errorf("a peer not answering logged as:\n%s", got)
	}
	// A node that logs only errors and up gets no raft warnings either.
	out.Reset()
	quiet := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelError}))
	newRaftSink(quiet, hclog.Debug, time.Now).Accept("raft", hclog.Warn, "a warning")
	if out.Len() != 0 {
		t.Errorf("LOG_LEVEL=error logged a raft warning: %q", out.String())
	}
}
