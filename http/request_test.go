package http

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/agendahq/agenda"
)

// wantDecodeErr checks a decode error's code and, if field is given, its
// details.field. An empty code means no error.
func wantDecodeErr(t *testing.T, err error, code, field string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("error = %v, want none", err)
		}
		return
	}
	if got := agenda.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
	if msg := agenda.ErrorMessage(err); msg == "" || msg == "internal error" {
		t.Errorf("message = %q, want a client-safe explanation", msg)
	}
	got, _ := agenda.ErrorDetails(err)["field"].(string)
	if got != field {
		t.Errorf("details.field = %q, want %q (error: %v)", got, field, err)
	}
}

func TestDecodeBodyContentType(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		code        string
	}{
		{name: "application/json", contentType: "application/json"},
		{name: "with charset", contentType: "application/json; charset=utf-8"},
		{name: "with charset, no space, upper case", contentType: "application/json;charset=UTF-8"},
		{name: "media type in capitals", contentType: "Application/JSON"},
		{name: "missing", contentType: "", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "text/plain", contentType: "text/plain", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "text/plain with charset", contentType: "text/plain; charset=utf-8", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "utf8, as some clients spell it", contentType: "application/json; charset=utf8"},
		{name: "another charset", contentType: "application/json; charset=utf-16", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "latin-1", contentType: "application/json; charset=ISO-8859-1", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "form", contentType: "application/x-www-form-urlencoded", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "json lookalike", contentType: "application/jsonx", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "json suffix type", contentType: "application/merge-patch+json", code: agenda.EUNSUPPORTEDMEDIATYPE},
		{name: "garbage", contentType: ";;;", code: agenda.EUNSUPPORTEDMEDIATYPE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/appointments", strings.NewReader(`{"title":"Lunch"}`))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var req appointmentRequest
			err := decodeBody(httptest.NewRecorder(), r, &req)
			wantDecodeErr(t, err, tc.code, "")
			if tc.code == "" && (req.Title == nil || *req.Title != "Lunch") {
				t.Errorf("title = %v, want Lunch", req.Title)
			}
		})
	}
}

func TestDecodeBodySizeLimit(t *testing.T) {
	pad := func(body string, size int) string { return body + strings.Repeat(" ", size-len(body)) }
	tests := []struct {
		name string
		body string
		code string
	}{
		{name: "exactly the limit", body: pad(`{"title":"x"}`, maxBodyBytes)},
		{name: "one string over the limit", body: `{"title":"` + strings.Repeat("a", maxBodyBytes) + `"}`, code: agenda.ETOOLARGE},
		{name: "a valid object followed by too much whitespace", body: pad(`{"title":"x"}`, maxBodyBytes+1), code: agenda.ETOOLARGE},
		{name: "far over the limit", body: `{"description":"` + strings.Repeat("a", 10*maxBodyBytes) + `"}`, code: agenda.ETOOLARGE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/api/appointments", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			var req appointmentRequest
			wantDecodeErr(t, decodeBody(httptest.NewRecorder(), r, &req), tc.code, "")
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		into  func() any
		code  string
		field string
	}{
		{name: "valid appointment", body: `{"title":"Lunch","start":"2026-06-01T12:00:00Z","end":"2026-06-01T13:00:00Z","privacy":"full"}`, into: newAppointmentRequest},
		{name: "valid with surrounding whitespace", body: "\n\t {\"title\":\"Lunch\"} \r\n", into: newAppointmentRequest},
		{name: "empty object", body: `{}`, into: newAppointmentRequest},
		{name: "valid registration", body: `{"username":"ana","password":"12345678","display_name":"Ana","email":"a@b.example"}`, into: newRegisterRequest},
		{name: "unknown field", body: `{"title":"Lunch","colour":"red"}`, into: newAppointmentRequest, code: agenda.EINVALID, field: "colour"},
		{name: "unknown field in a registration", body: `{"username":"ana","admin":true}`, into: newRegisterRequest, code: agenda.EINVALID, field: "admin"},
		{name: "field names are matched exactly", body: `{"display-name":"Ana"}`, into: newRegisterRequest, code: agenda.EINVALID, field: "display-name"},
		{name: "second object after the first", body: `{"title":"a"}{"title":"b"}`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "number after the object", body: `{"title":"a"} 1`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "stray bracket after the object", body: `{"title":"a"}]`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "garbage after the object", body: `{"title":"a"}xyz`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "string for an object", body: `"Lunch"`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "array for an object", body: `[{"title":"Lunch"}]`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "number for an object", body: `42`, into: newRegisterRequest, code: agenda.EINVALID},
		{name: "null for an object", body: `null`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "repeated field", body: `{"username":"ana","username":"admin"}`, into: newRegisterRequest, code: agenda.EINVALID, field: "username"},
		// No request field is nullable: null was taken as the field left
		// out ({"title": null} in a change kept the title without a word).
		{name: "null for an optional field", body: `{"title":"Lunch","description":null}`, into: newAppointmentRequest, code: agenda.EINVALID, field: "description"},
		{name: "null for a required field", body: `{"username":null}`, into: newRegisterRequest, code: agenda.EINVALID, field: "username"},
		{name: "null in a string is fine", body: `{"title":"null"}`, into: newAppointmentRequest},
		{name: "field name in another case", body: `{"Title":"Lunch"}`, into: newAppointmentRequest, code: agenda.EINVALID, field: "Title"},
		{name: "number for a string field", body: `{"title":5}`, into: newAppointmentRequest, code: agenda.EINVALID, field: "title"},
		{name: "boolean for a time field", body: `{"start":true}`, into: newAppointmentRequest, code: agenda.EINVALID, field: "start"},
		{name: "object for a string field", body: `{"username":{}}`, into: newRegisterRequest, code: agenda.EINVALID, field: "username"},
		{name: "array for a plain string field", body: `{"display_name":["Ana"]}`, into: newRegisterRequest, code: agenda.EINVALID, field: "display_name"},
		{name: "empty body", body: ``, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "whitespace only", body: "  \n", into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "truncated", body: `{"title":"Lun`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "unquoted key", body: `{title:"Lunch"}`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "trailing comma", body: `{"title":"Lunch",}`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "single quotes", body: `{'title':'Lunch'}`, into: newAppointmentRequest, code: agenda.EINVALID},
		{name: "byte order mark", body: "\uFEFF{}", into: newAppointmentRequest, code: agenda.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantDecodeErr(t, decodeJSON(strings.NewReader(tc.body), tc.into()), tc.code, tc.field)
		})
	}

	t.Run("type error names the field and the wanted type", func(t *testing.T) {
		err := decodeJSON(strings.NewReader(`{"title":5}`), newAppointmentRequest())
		if msg := agenda.ErrorMessage(err); msg != `field "title" must be a string` {
			t.Errorf("message = %q, want %q", msg, `field "title" must be a string`)
		}
	})
	// A review found 1.5, 1e2 and a number too large told "must be a
	// number": they are numbers, not integers the field can hold.
	for _, rank := range []string{`1.5`, `1e2`, `99999999999999999999`, `"5"`} {
		t.Run("rank "+rank, func(t *testing.T) {
			err := decodeJSON(strings.NewReader(`{"user_id":"u","rank":`+rank+`}`), &memberRequest{})
			if msg := agenda.ErrorMessage(err); msg != `field "rank" must be an integer` {
				t.Errorf("message = %q, want %q", msg, `field "rank" must be an integer`)
			}
		})
	}

}

func newAppointmentRequest() any { return &appointmentRequest{} }
func newRegisterRequest() any    { return &registerRequest{} }

// FuzzDecodeRequest feeds arbitrary bodies to the request decoder: it must
// never panic, must only accept valid JSON, and every refusal must be a
// client error with an agenda code.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"title":"Lunch","description":"d","location":"l","start":"2026-06-01T12:00:00Z","end":"2026-06-01T13:00:00Z","privacy":"full"}`,
		`{"username":"ana","password":"12345678","display_name":"Ana","email":"a@b.example"}`,
		`{"current_password":"x","new_password":"y"}`,
		`{}`, `null`, `[]`, `""`, `0`, `true`, ``, ` `,
		`{"title":5}`, `{"start":true}`, `{"username":{}}`, `{"display_name":[]}`,
		`{"title":"a"}{"title":"b"}`, `{"title":"a"} x`, `{"title":"Lun`, `{title:1}`,
		`{"colour":"red"}`, `{"a\"b":1}`, `{"title":"\ud800"}`, "{\"title\":\"\xff\"}",
		`{"title":"a","title":"b"}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`{"title":1e999}`, `{"display_name":-0.0e-0}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := map[string]func() any{
			"appointment": newAppointmentRequest,
			"register":    newRegisterRequest,
			"login":       func() any { return &loginRequest{} },
			"profile":     func() any { return &profilePatch{} },
			"password":    func() any { return &passwordChange{} },
		}
		for name, into := range targets {
			err := decodeJSON(strings.NewReader(string(body)), into())
			if err == nil {
				if !json.Valid(body) {
					t.Errorf("%s: accepted %q, which is not valid JSON", name, body)
				}
				continue
			}
			switch code := agenda.ErrorCode(err); code {
			case agenda.EINVALID, agenda.ETOOLARGE:
			default:
				t.Errorf("%s: body %q gave code %q (%v), want invalid or too_large", name, body, code, err)
			}
			if agenda.ErrorMessage(err) == "" {
				t.Errorf("%s: body %q gave an error without a message", name, body)
			}
		}

		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", "application/json")
		if err := decodeBody(httptest.NewRecorder(), r, newAppointmentRequest()); err != nil {
			if code := agenda.ErrorCode(err); code == agenda.EINTERNAL {
				t.Errorf("decodeBody(%q) gave an internal error: %v", body, err)
			}
		}
	})
}

// TestQueryBool: a boolean query parameter takes true or 1, false or 0, or
// nothing; anything else is refused with a message that names every
// spelling it takes (a review found 1 and 0 taken but not named).
func TestQueryBool(t *testing.T) {
	for q, want := range map[string]bool{"": false, "?unread=": false, "?unread=false": false, "?unread=0": false,
		"?unread=true": true, "?unread=1": true} {
		got, err := queryBool(httptest.NewRequest("GET", "/api/notifications"+q, nil), "unread")
		if err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", q, got, err, want)
		}
	}
	for _, q := range []string{"?unread=TRUE", "?unread=yes", "?unread=2", "?unread=%20true"} {
		_, err := queryBool(httptest.NewRequest("GET", "/api/notifications"+q, nil), "unread")
		wantDecodeErr(t, err, agenda.EINVALID, "unread")
		if msg := agenda.ErrorMessage(err); !strings.Contains(msg, "1") || !strings.Contains(msg, "0") {
			t.Errorf("%q: message %q does not name 1 and 0, which it takes", q, msg)
		}
	}
}
