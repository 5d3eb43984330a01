package http

import (
	"bytes"

	"github.com/agendahq/agenda"
)

// groupAgendaJSON returns the bytes writeJSON writes for view
// (TestGroupAgendaJSONIsEncodingJSON), or agenda.AgendaTooLarge once they
// pass agenda.MaxAgendaBytes: a group's answer repeats each appointment's
// details in every entry of it, so the details the read model read do not
// bound it (a review's year of a 40-member group, before answers were
// bounded: 156 MB of JSON, 400 MB of memory for one read). The answer is
// built whole, after the read, and written once: streamed, a client that
// stopped reading could hold the node's resources.
func groupAgendaJSON(view []agenda.MemberAgenda) ([]byte, error) {
	var out, buf bytes.Buffer
	enc := jsonEncoder(&buf)
	// encoded returns v as encoding/json writes it, without the newline
	// Encode ends with; valid until the next call.
	encoded := func(v any) ([]byte, error) {
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return nil, err
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	put := func(v any) error {
		b, err := encoded(v)
		if err != nil {
			return err
		}
		if out.Len()+len(b) > agenda.MaxAgendaBytes {
			return agenda.AgendaTooLarge()
		}
		out.Write(b)
		return nil
	}
	out.WriteByte('[')
	for i, m := range view {
		if i > 0 {
			out.WriteByte(',')
		}
		entries := m.Entries
		if entries == nil {
			if err := put(m); err != nil {
				return nil, err
			}
			continue
		}
		// The member with no entries ends in `[]}` (entries is its last
		// field): the entries go between the brackets.
		m.Entries = []agenda.GroupAgendaEntry{}
		head, err := encoded(m)
		if err != nil {
			return nil, err
		}
		out.Write(head[:len(head)-2])
		for k := range entries {
			if k > 0 {
				out.WriteByte(',')
			}
			if err := put(&entries[k]); err != nil {
				return nil, err
			}
		}
		out.WriteString("]}")
	}
	out.WriteString("]\n")
	if out.Len() > agenda.MaxAgendaBytes { // with the members' heads and separators
		return nil, agenda.AgendaTooLarge()
	}
	return out.Bytes(), nil
}
