package reqid_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/agendahq/agenda/internal/reqid"
)

func TestHandlerAddsRequestID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(reqid.Handler(slog.NewTextHandler(&buf, nil))).With("node_id", "n1")
	ctx := reqid.With(context.Background(), "req-42")
	log.InfoContext(ctx, "with")
	log.Info("without")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "request_id=req-42") || !strings.Contains(lines[0], "node_id=n1") {
		t.Fatalf("first line %q lacks request_id or node_id", lines[0])
	}
	if strings.Contains(lines[1], "request_id") {
		t.Fatalf("a line without a request context got one: %q", lines[1])
	}
}
