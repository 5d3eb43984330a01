package http

import (
	"bufio"
	"bytes"
	"log/slog"
	"net/http"

	"github.com/agendahq/agenda"
)

// writeGroupAgenda answers 200 with view, the bytes writeJSON writes for it
// (TestGroupAgendaJSONIsEncodingJSON), but entry by entry through a small
// buffer: a group's answer may hold agenda.MaxAgendaEntries entries, each
// repeating its appointment's details, and encoding it whole held megabytes
// at once (a review's year of a 40-member group, before entries were
// bounded: 156 MB of JSON, 400 MB of memory for one read).
func writeGroupAgenda(w http.ResponseWriter, view []agenda.MemberAgenda) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	var buf bytes.Buffer
	enc := jsonEncoder(&buf)
	// encoded returns v as encoding/json writes it, without the newline
	// Encode ends with; valid until the next call.
	encoded := func(v any) []byte {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			// Strings, times and booleans: unreachable, but if it were,
			// cut the answer rather than send a broken one as whole.
			slog.Error("encode group agenda", "err", err)
			panic(http.ErrAbortHandler)
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	bw.WriteByte('[')
	for i, m := range view {
		if i > 0 {
			bw.WriteByte(',')
		}
		entries := m.Entries
		if entries == nil {
			bw.Write(encoded(m))
			continue
		}
		// The member with no entries ends in `[]}` (entries is its last
		// field): the entries go between the brackets.
		m.Entries = []agenda.GroupAgendaEntry{}
		head := encoded(m)
		bw.Write(head[:len(head)-2])
		for k := range entries {
			if k > 0 {
				bw.WriteByte(',')
			}
			bw.Write(encoded(&entries[k]))
		}
		bw.WriteString("]}")
	}
	bw.WriteString("]\n")
	if err := bw.Flush(); err != nil {
		slog.Debug("write response", "err", err)
	}
}
