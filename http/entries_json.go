// The one-week agenda is the most frequent read, and encoding/json spent
// 40 % of the server's CPU on it: reflection over 13 fields, then a second
// pass compacting what time.Time's MarshalJSON returned, 168 times a week.
// entriesJSON writes the same bytes in one pass.

package http

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/agendahq/agenda"
)

// entriesJSON builds, one entry at a time, the bytes writeJSON writes for
// a non-nil []agenda.Entry — a JSON array and a newline
// (TestEntriesJSONIsEncodingJSON, FuzzEntriesJSON) — in a pooled buffer,
// so that entries are encoded as the read model hands them over instead of
// being collected first. It is written once the read is over (a review
// found an answer streamed from inside the read let a client that stopped
// reading hold the read open, and freeze the node), and holds at most
// agenda.MaxAgendaBytes.
type entriesJSON struct {
	buf *[]byte // the pooled buffer, returned by release
	b   []byte  // what has been written, from the buffer's start
}

// newEntriesJSON starts an empty list; release returns its buffer.
func newEntriesJSON() *entriesJSON {
	buf := entryBuffers.Get().(*[]byte)
	return &entriesJSON{buf: buf, b: (*buf)[:0]}
}

// entryBuffers holds response buffers for reuse: a week's answer is about
// 50 KB. One grown past maxPooledEntryBuffer, for a long window, is left
// to the garbage collector.
var entryBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

const maxPooledEntryBuffer = 1 << 20

// add appends e (EachAgendaEntry's callback); agenda.AgendaTooLarge once
// the list passes agenda.MaxAgendaBytes.
func (j *entriesJSON) add(e *agenda.Entry) error {
	if len(j.b) == 0 {
		j.b = append(j.b, '[')
	} else {
		j.b = append(j.b, ',')
	}
	j.b = appendEntry(j.b, e)
	if len(j.b)+len("]\n") > agenda.MaxAgendaBytes { // with what finish adds
		return agenda.AgendaTooLarge()
	}
	return nil
}

// finish ends the array and returns it.
func (j *entriesJSON) finish() []byte {
	if len(j.b) == 0 {
		j.b = append(j.b, '[')
	}
	j.b = append(j.b, "]\n"...)
	return j.b
}

// write answers 200 with the list, in one write of known length.
func (j *entriesJSON) write(w http.ResponseWriter) { writeBody(w, j.finish()) }

// release returns the buffer to the pool; j must not be used after.
func (j *entriesJSON) release() {
	if cap(j.b) <= maxPooledEntryBuffer {
		*j.buf = j.b[:0]
		entryBuffers.Put(j.buf)
	}
	j.buf, j.b = nil, nil
}

// appendEntry appends e as encoding/json marshals it: the fields in
// declaration order under their tag names. A field added to agenda.Entry
// and not here fails TestEntriesJSONIsEncodingJSON, which sets every field
// by reflection.
func appendEntry(b []byte, e *agenda.Entry) []byte {
	b = append(b, `{"appointment_id":`...)
	b = appendJSONString(b, e.AppointmentID)
	b = append(b, `,"group_id":`...)
	if e.GroupID == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *e.GroupID)
	}
	b = append(b, `,"title":`...)
	b = appendJSONString(b, e.Title)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, e.Description)
	b = append(b, `,"location":`...)
	b = appendJSONString(b, e.Location)
	b = append(b, `,"start":`...)
	b = appendJSONTime(b, e.Start)
	b = append(b, `,"end":`...)
	b = appendJSONTime(b, e.End)
	b = append(b, `,"privacy":`...)
	b = appendJSONString(b, e.Privacy)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, e.Status)
	b = append(b, `,"my_status":`...)
	b = appendJSONString(b, e.MyStatus)
	b = append(b, `,"pending":`...)
	b = strconv.AppendBool(b, e.Pending)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, e.Version, 10)
	b = append(b, `,"origin_node":`...)
	b = appendJSONString(b, e.OriginNode)
	return append(b, '}')
}

// appendJSONTime appends t as time.Time's MarshalJSON writes it. Entry
// times come from Unix nanoseconds, so their years (1677–2262) are always
// within the four digits MarshalJSON requires.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string. A string that needs no
// escape — no quote, backslash or control character, valid UTF-8, no
// U+2028 or U+2029 — is copied between quotes, as encoding/json copies it;
// any other is handed to encoding/json itself, so that every escape is
// exactly its own.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if plainJSON[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			return appendEncodedString(b, s)
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendEncodedString(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON[c] says whether encoding/json copies the ASCII byte c into a
// string as it is: printable, neither quote nor backslash. (It also copies
// HTML's <, > and &, as writeJSON's encoder does not escape HTML.)
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendEncodedString appends s as writeJSON's encoder writes a string.
func appendEncodedString(b []byte, s string) []byte {
	var buf bytes.Buffer
	_ = jsonEncoder(&buf).Encode(s) // cannot fail: every string encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})...)
}
