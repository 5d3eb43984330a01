package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// Smaller input rules of issue 9 (point 11), each at the level it lives.

func TestDecodeJSONRefusesWhatItCannotKeep(t *testing.T) {
	for _, tc := range []struct {
		name, body, code, message string
	}{
		{name: "invalid UTF-8 in a string", body: "{\"title\":\"caf\xe9\"}", code: agenda.EINVALID, message: "request body is not valid UTF-8"},
		{name: "a lone high surrogate", body: `{"title":"x\ud800y"}`, code: agenda.EINVALID},
		{name: "a lone low surrogate", body: `{"title":"x\udc00"}`, code: agenda.EINVALID},
		{name: "a high surrogate at the end", body: `{"title":"\ud83d"}`, code: agenda.EINVALID},
		{name: "two high surrogates", body: `{"title":"\ud83d\ud83d"}`, code: agenda.EINVALID},
		{name: "a surrogate pair is fine", body: `{"title":"\ud83d\ude00 party"}`},
		{name: "an escaped backslash before u is no escape", body: `{"title":"C:\\ud800"}`},
		{name: "plain UTF-8 is fine", body: `{"title":"Zoë's café 😀"}`},
		{name: "truncated JSON is not empty", body: `{"title":"Lunch",`, code: agenda.EINVALID, message: "request body is truncated JSON"},
		{name: "truncated after the brace", body: `{`, code: agenda.EINVALID, message: "request body is truncated JSON"},
		{name: "truncated inside a string", body: `{"title":"Lun`, code: agenda.EINVALID, message: "request body is truncated JSON"},
		{name: "empty is empty", body: ` `, code: agenda.EINVALID, message: "request body is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeJSON(strings.NewReader(tc.body), &appointmentRequest{})
			wantDecodeErr(t, err, tc.code, "")
			if tc.message != "" && agenda.ErrorMessage(err) != tc.message {
				t.Errorf("message = %q, want %q", agenda.ErrorMessage(err), tc.message)
			}
		})
	}
}

// failingReader fails like a connection whose client stalled.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("read tcp 127.0.0.1:8080->127.0.0.1:53412: i/o timeout")
}

func TestDecodeJSONReadErrorNamesNoAddress(t *testing.T) {
	err := decodeJSON(io.MultiReader(strings.NewReader(`{"title":`), failingReader{}), &appointmentRequest{})
	wantDecodeErr(t, err, agenda.EINVALID, "")
	if msg := agenda.ErrorMessage(err); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "tcp") {
		t.Errorf("message %q leaks the connection", msg)
	}
}

func TestParseTimeOffsets(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2026-06-01T12:00:00Z", true},
		{"2026-06-01T12:00:00+02:00", true},
		{"2026-06-01T12:00:00-23:59", true},
		{"2026-06-01T12:00:00+23:59", true},
		{"2026-06-01T12:00:00.5+05:30", true},
		{"2026-06-01T12:00:00+24:00", false},
		{"2026-06-01T12:00:00-24:00", false},
		{"2026-06-01T12:00:00+12:60", false},
		{"2026-06-01T12:00:00+99:00", false},
		// RFC 3339's shape, neither more nor less than it (a review found
		// both ways off): t and z in lower case are allowed, a comma, a
		// one-digit field or a fraction finer than nanoseconds are not.
		{"2026-06-01t12:00:00z", true},
		{"2026-06-01T12:00:00.123456789Z", true},
		{"2026-06-01T12:00:00,5Z", false},
		{"2026-06-01T9:00:00Z", false},
		{"2026-06-01T12:00:00.1234567891Z", false},
		{"2026-06-01 12:00:00Z", false},
		{"2026-06-01T12:00Z", false},
		{"2026-06-01T12:00:00.Z", false},
		{"2026-13-01T12:00:00Z", false},
		{"2026-06-01T12:00:60Z", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := parseTime("start", tc.in)
			if tc.ok {
				wantDecodeErr(t, err, "", "")
			} else {
				wantDecodeErr(t, err, agenda.EINVALID, "start")
			}
		})
	}
}

// TestParseTimeSaysPlusIsASpace: an offset's + written unescaped in a
// query string arrives as a space (a walk-through found the refusal did
// not say so); the message says how to write it, and only where a + would
// make the time valid, and only for a query parameter (a review found the
// hint given for a JSON field too, where %2B would be taken literally).
func TestParseTimeSaysPlusIsASpace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		hint bool
	}{
		{"2026-12-01T00:00:00 01:00", true},
		{"2026-12-01T00:00:00.5 05:30", true},
		{"2026-12-01 00:00:00Z", false},      // no offset
		{"2026-12-01T00:00:00 24:00", false}, // a + would not make it valid
		{"2300-12-01T00:00:00 01:00", false}, // nor here: out of range
		{"2026-12-01 00:00:00 01:00", false}, // nor with another space
		{" ", false},
	} {
		_, err := parseQueryTime("from", tc.in)
		wantDecodeErr(t, err, agenda.EINVALID, "from")
		if got := strings.Contains(agenda.ErrorMessage(err), "%2B"); got != tc.hint {
			t.Errorf("%q: message %q, want the hint to write + as %%2B: %v", tc.in, agenda.ErrorMessage(err), tc.hint)
		}
		_, err = parseTime("start", tc.in)
		if strings.Contains(agenda.ErrorMessage(err), "%2B") {
			t.Errorf("%q as a body field: message %q speaks of a query string", tc.in, agenda.ErrorMessage(err))
		}
	}
}

func TestParseIfMatch(t *testing.T) {
	for _, tc := range []struct {
		header string
		sent   bool // the header is sent even if empty
		want   commands.IfMatch
		code   string
	}{
		{header: ""},
		// Present but empty: a list of no tags, which nothing matches (a
		// review's empty ETag variable made a conditional write go through).
		{header: "", sent: true, want: commands.Versions()},
		{header: " ", sent: true, want: commands.Versions()},
		{header: ",", want: commands.Versions()},
		{header: `"3"`, want: commands.Versions(3)},
		{header: `3`, want: commands.Versions(3)}, // quotes optional, as before
		{header: `*`}, // any current version
		{header: ` * `},
		{header: `W/"3"`, want: commands.Versions()}, // strong comparison: a weak tag never matches
		{header: `W/"3", "4"`, want: commands.Versions(4)},
		{header: `"abc"`, want: commands.Versions()}, // a tag that is none of ours
		{header: `"4", W/"5"`, want: commands.Versions(4)},
		{header: `"", "7"`, want: commands.Versions(7)},
		{header: `"3", "4"`, want: commands.Versions(3, 4)}, // a list: any may match (RFC 9110 13.1.1)
		{header: `"3`, code: agenda.EINVALID},
		{header: `W/3`, code: agenda.EINVALID},
		{header: `"3"x`, code: agenda.EINVALID},
		{header: `0`, code: agenda.EINVALID},
		{header: `-1`, code: agenda.EINVALID},
		{header: `abc`, code: agenda.EINVALID},
	} {
		t.Run(fmt.Sprintf("%q sent %v", tc.header, tc.sent), func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPatch, "/api/appointments/x", nil)
			if tc.header != "" || tc.sent {
				r.Header.Set("If-Match", tc.header)
			}
			got, err := parseIfMatch(r)
			wantDecodeErr(t, err, tc.code, "")
			if tc.code == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseIfMatch(%s) = %+v, want %+v", tc.header, got, tc.want)
			}
		})
	}
}

// readyNode is a Node that is caught up at a given head.
type readyNode struct{ head int64 }

func (n readyNode) ClusterStatus() ClusterStatus { return ClusterStatus{} }
func (n readyNode) Readiness() Readiness {
	return Readiness{Ready: true, CaughtUp: true, Status: "ready", Position: n.head, Head: n.head}
}

// slowQueries is at position 1; waiting for anything beyond fails at once
// as if the read wait had run out.
type slowQueries struct{ fakeQueries }

func (q *slowQueries) WaitFor(_ context.Context, p int64) error {
	if p > 1 {
		return agenda.Errorf(agenda.EUNAVAILABLE, "read model has not reached %d", p)
	}
	return nil
}

func TestMinPositionFarInTheFuture(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pos    string
		status int
	}{
		{name: "reached", pos: "1", status: http.StatusOK},
		{name: "just ahead: waited for", pos: "20", status: http.StatusServiceUnavailable},
		{name: "far beyond the head: refused at once", pos: "1000000", status: http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
			s.Queries = &slowQueries{}
			s.Node = readyNode{head: 1}
			r := httptest.NewRequest("GET", "/api/me?min_position="+tc.pos, nil)
			r.Header.Set("Authorization", bearer(t, s))
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == http.StatusBadRequest && !strings.Contains(rec.Body.String(), `"field":"min_position"`) {
				t.Errorf("body %s does not name min_position", rec.Body)
			}
		})
	}
}

// TestEmptyBody: an endpoint that takes no body takes nothing, an empty
// object, or whitespace, up to the size every body is bounded by (an
// attacker's review found megabytes of whitespace accepted).
func TestEmptyBody(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		code       string
	}{
		{"nothing", "", ""},
		{"an empty object", " {\n} ", ""},
		{"whitespace within the bound", strings.Repeat(" ", maxBodyBytes), ""},
		{"whitespace beyond it", strings.Repeat(" ", maxBodyBytes+1), agenda.ETOOLARGE},
		{"a field", `{"x":1}`, agenda.EINVALID},
	} {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
		if got := agenda.ErrorCode(emptyBody(r)); got != tc.code {
			t.Errorf("%s: code %q, want %q", tc.name, got, tc.code)
		}
	}
}

// TestQueryParametersOnce: a query parameter given twice, or a query that
// does not parse, is refused rather than read as its first value (a review
// found "from=…&from=…" answered from the first); so is one that is not
// UTF-8 (a search for %FF answered an empty list).
func TestQueryParametersOnce(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		status      int
		field       string
	}{
		{name: "each once", query: "?q=ana&limit=5", status: http.StatusOK},
		{name: "none (the handler then wants q)", query: "", status: http.StatusBadRequest, field: "q"},
		{name: "twice", query: "?q=ana&q=bob", status: http.StatusBadRequest, field: "q"},
		{name: "twice, one empty", query: "?limit=5&limit=", status: http.StatusBadRequest, field: "limit"},
		{name: "malformed escape", query: "?q=%zz", status: http.StatusBadRequest},
		{name: "semicolon", query: "?q=a;b", status: http.StatusBadRequest},
		{name: "not UTF-8 once unescaped", query: "?q=%FF", status: http.StatusBadRequest, field: "q"},
		{name: "a name not UTF-8", query: "?q=ana&%FF=1", status: http.StatusBadRequest},
		{name: "UTF-8, escaped", query: "?q=%C3%B1", status: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTestServer(t, &fakeCommands{}, &fakeQueries{})
			r := httptest.NewRequest("GET", "/api/users"+tc.query, nil)
			r.Header.Set("Authorization", bearer(t, s))
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, r)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.status, rec.Body)
			}
			if tc.field != "" && !strings.Contains(rec.Body.String(), `"field":"`+tc.field+`"`) {
				t.Errorf("body %s does not name %s", rec.Body, tc.field)
			}
		})
	}
}
