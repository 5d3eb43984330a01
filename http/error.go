package http

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/agendahq/agenda"
)

// codes maps each error code to its HTTP status. It is the only place that
// does.
var codes = map[string]int{
	agenda.EINVALID:              http.StatusBadRequest,
	agenda.EMETHODNOTALLOWED:     http.StatusMethodNotAllowed,
	agenda.EUNAUTHORIZED:         http.StatusUnauthorized,
	agenda.EFORBIDDEN:            http.StatusForbidden,
	agenda.ENOTFOUND:             http.StatusNotFound,
	agenda.ECONFLICT:             http.StatusConflict,
	agenda.ESCHEDULECONFLICT:     http.StatusConflict,
	agenda.EPRECONDITIONFAILED:   http.StatusPreconditionFailed,
	agenda.ETOOLARGE:             http.StatusRequestEntityTooLarge,
	agenda.EUNSUPPORTEDMEDIATYPE: http.StatusUnsupportedMediaType,
	agenda.ERATELIMITED:          http.StatusTooManyRequests,
	agenda.EUNAVAILABLE:          http.StatusServiceUnavailable,
	agenda.EINTERNAL:             http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status for an error code.
func ErrorStatus(code string) int {
	if s, ok := codes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// Error writes err as the contract's error JSON. Internal errors are logged
// and answered with a generic message; their text never reaches the client.
func (s *Server) Error(w http.ResponseWriter, r *http.Request, err error) {
	code, message := agenda.ErrorCode(err), agenda.ErrorMessage(err)
	if n := noteOf(r); n != nil {
		n.code = code
	}
	if code == agenda.EINTERNAL {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			// The client went away; nothing to answer.
			return
		}
		s.logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path,
			"request_id", requestID(r.Context()), "err", err)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		refusedAt(w, s.Queries, agenda.ErrorPosition(err))
	}
	status := ErrorStatus(code)
	if (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, errorBody{Error: errorPayload{Code: code, Message: message, Details: agenda.ErrorDetails(err)}})
}

// errorJSON is the contract's error body for code and message, encoded:
// for the answers written where no error value is at hand (send's own
// refusal, an answer that failed to encode).
func errorJSON(code, message string) []byte {
	var buf bytes.Buffer
	_ = jsonEncoder(&buf).Encode(errorBody{Error: errorPayload{Code: code, Message: message}}) // strings always encode
	return buf.Bytes()
}

// refusedAt sets a refused write's X-Agenda-Position: a position at least
// as fresh as the state the refusal was decided on, so that a client
// reading with it as min_position sees what refused it. That is this
// node's read horizon now (it only moves forward; the lowest checkpoint,
// Position, may lag the projection the refusal read), not the position the
// request was admitted at (the read middleware's: a refusal may be
// confirmed on fresher state, commands.Handlers.Fresh), unless the write
// already committed further, or the refusal was decided on the leader's
// log at a position named in the error (decided).
func refusedAt(w http.ResponseWriter, q Queries, decided int64) {
	if q == nil {
		return
	}
	pos := max(q.Horizon(), decided)
	if prev, err := strconv.ParseInt(w.Header().Get("X-Agenda-Position"), 10, 64); err == nil && prev > pos {
		pos = prev
	}
	w.Header().Set("X-Agenda-Position", strconv.FormatInt(pos, 10))
}
