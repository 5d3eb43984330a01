// What a handler writes back: JSON bodies, ETags and the answer to a
// committed write. Errors are written by Server.Error (error.go), through
// writeJSON.

package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, version))
}

// writeBody answers 200 with body, JSON already encoded, in one answer of
// known length (see send).
func writeBody(w http.ResponseWriter, body []byte) {
	send(w, http.StatusOK, body)
}

// writeJSON answers status with v encoded as JSON; nil v, no body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		return
	}
	var buf bytes.Buffer
	if err := jsonEncoder(&buf).Encode(v); err != nil {
		// Only a value no request can shape gets here (every field a
		// handler answers encodes); say so rather than half an answer.
		slog.Error("encode response", "type", fmt.Sprintf("%T", v), "err", err)
		send(w, http.StatusInternalServerError, errorJSON(agenda.EINTERNAL, "internal error"))
		return
	}
	send(w, status, buf.Bytes())
}

// committed answers a successful write: it sets X-Agenda-Position and waits
// (briefly) for the local read model to show the write, so the response and
// any read that follows on this node reflect it. It reports false, after
// answering 202 with the position, if the read model did not catch up in time.
func (s *Server) committed(w http.ResponseWriter, r *http.Request, res commands.Result) bool {
	if n := noteOf(r); n != nil && n.target == "" {
		n.target = res.ID // what the command created or changed
	}
	if res.Position == 0 { // nothing changed: the state the decision read shows it
		w.Header().Set("X-Agenda-Position", strconv.FormatInt(s.Queries.Horizon(), 10))
		return true
	}
	w.Header().Set("X-Agenda-Position", strconv.FormatInt(res.Position, 10))
	ctx, cancel := context.WithTimeout(r.Context(), s.readWait())
	defer cancel()
	if err := s.Queries.WaitFor(ctx, res.Position); err != nil {
		s.logger.WarnContext(r.Context(), "write committed but the read model did not show it in time", "position", res.Position, "read_model", s.Queries.Position())
		writeJSON(w, http.StatusAccepted, map[string]any{"id": res.ID, "position": res.Position,
			"message": "committed; not yet visible on this node, read with min_position"})
		return false
	}
	return true
}
