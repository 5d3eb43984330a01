// What a handler writes back: JSON bodies, ETags and the answer to a
// committed write. Errors are written by Server.Error (error.go), through
// writeJSON.
package http

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
)

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, version))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		enc := jsonEncoder(w)
		if err := enc.Encode(v); err != nil {
			slog.Debug("write response", "err", err)
		}
	}
}
