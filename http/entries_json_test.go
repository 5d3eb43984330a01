package http

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agendahq/agenda"
)

// viaEncodingJSON is what writeJSON writes for v.
func viaEncodingJSON(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jsonEncoder(&buf).Encode(v); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return buf.Bytes()
}

// viaEntriesJSON is what handleAgenda writes for entries.
func viaEntriesJSON(entries []agenda.Entry) []byte {
	list := newEntriesJSON()
	for i := range entries {
		list.add(&entries[i])
	}
	return bytes.Clone(list.finish())
}

// trickyStrings need every kind of escape encoding/json makes, or none
// where a hand-written encoder might add one.
var trickyStrings = []string{
	"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "reunión en Cádiz ☕ 日本", "\u2028line\u2029para", "bad \xff utf8 \xc3",
	"emoji 🗓️ and surrogate-free", "\ufffd replacement", "end\\",
}

func TestEntriesJSONIsEncodingJSON(t *testing.T) {
	group := "group-0f8fad5b-d9cb-469f-a165-70867728950e"
	start := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	lists := map[string][]agenda.Entry{
		"empty": {},
	}
	var every []agenda.Entry
	for i, s := range trickyStrings {
		e := agenda.Entry{
			AppointmentID: s, Title: s, Description: s, Location: s, Privacy: s, Status: s, MyStatus: s, OriginNode: s,
			Start: start.Add(time.Duration(i) * 1234567891), End: start.Add(time.Duration(i) * time.Hour),
			Pending: i%2 == 0, Version: int64(i*1000 - 3),
		}
		if i%3 != 0 {
			e.GroupID = &trickyStrings[i]
		}
		lists["one "+strconv.Quote(s)] = []agenda.Entry{e}
		every = append(every, e)
	}
	lists["every string"] = every
	lists["every field set"] = []agenda.Entry{everyFieldSet(t)}
	lists["extreme times"] = []agenda.Entry{
		{GroupID: &group, Start: time.Unix(0, -1<<63).UTC(), End: time.Unix(0, 1<<63-1).UTC(), Version: -1 << 63},
		{Start: time.Unix(0, 0).UTC(), End: time.Unix(0, 1).UTC(), Version: 1<<63 - 1},
	}
	for name, entries := range lists {
		got, want := viaEntriesJSON(entries), viaEncodingJSON(t, entries)
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
}

// everyFieldSet returns an entry whose every field holds a value other
// than its zero, found by reflection: a field added to agenda.Entry shows
// in encoding/json's output, omitempty or not, and so fails the comparison
// until appendEntry writes it.
func everyFieldSet(t *testing.T) agenda.Entry {
	t.Helper()
	var e agenda.Entry
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Interface().(type) {
		case string:
			f.SetString("value of " + v.Type().Field(i).Name)
		case *string:
			g := "group of " + v.Type().Field(i).Name
			f.Set(reflect.ValueOf(&g))
		case time.Time:
			f.Set(reflect.ValueOf(time.Unix(int64(i)*86400, int64(i)).UTC()))
		case bool:
			f.SetBool(true)
		case int64:
			f.SetInt(int64(i) + 40)
		default:
			t.Fatalf("agenda.Entry.%s is a %s: teach everyFieldSet and appendEntry about it", v.Type().Field(i).Name, f.Type())
		}
	}
	return e
}

func TestEntriesJSONAnswersLikeWriteJSON(t *testing.T) {
	entries := []agenda.Entry{{AppointmentID: "a", Title: "t", Start: time.Unix(0, 0).UTC(), End: time.Unix(3600, 0).UTC()}}
	// A pooled buffer holds an earlier, longer answer: none of it shows.
	for _, list := range [][]agenda.Entry{slices.Repeat(entries, 50), entries, nil} {
		rec := httptest.NewRecorder()
		j := newEntriesJSON()
		for i := range list {
			j.add(&list[i])
		}
		j.write(rec)
		j.release()
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("Content-Length %s for a body of %d bytes", got, rec.Body.Len())
		}
		if want := viaEncodingJSON(t, append([]agenda.Entry{}, list...)); !bytes.Equal(rec.Body.Bytes(), want) {
			t.Errorf("body %s, want %s", rec.Body.Bytes(), want)
		}
	}
}

func FuzzEntriesJSON(f *testing.F) {
	for i, s := range trickyStrings {
		f.Add(s, trickyStrings[len(trickyStrings)-1-i], int64(i)*987654321, int64(i)<<40, i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, a, b string, start, version int64, pending bool) {
		e := agenda.Entry{
			AppointmentID: a, Title: b, Description: a + b, Location: b + a, Privacy: a, Status: b, MyStatus: a, OriginNode: b,
			Start: time.Unix(0, start).UTC(), End: time.Unix(0, version).UTC(), Pending: pending, Version: version,
		}
		if pending {
			e.GroupID = &b
		}
		entries := []agenda.Entry{e, e}
		if got, want := viaEntriesJSON(entries), viaEncodingJSON(t, entries); !bytes.Equal(got, want) {
			t.Errorf("\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkEntriesJSON: a week of 168 entries, against encoding/json.
func BenchmarkEntriesJSON(b *testing.B) {
	week := make([]agenda.Entry, 168)
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for i := range week {
		st := start.Add(time.Duration(i) * time.Hour)
		week[i] = agenda.Entry{AppointmentID: "0f8fad5b-d9cb-469f-a165-70867728950e", Title: "seed " + strconv.Itoa(i),
			Start: st, End: st.Add(45 * time.Minute), Privacy: agenda.PrivacyFull, Status: agenda.StatusConfirmed,
			MyStatus: agenda.RoleOwner, Version: 2, OriginNode: "node-1"}
	}
	b.Run("append", func(b *testing.B) {
		var n int
		for b.Loop() {
			list := newEntriesJSON()
			for i := range week {
				list.add(&week[i])
			}
			n = len(list.finish())
			list.release()
		}
		b.SetBytes(int64(n))
	})
	b.Run("encoding-json", func(b *testing.B) {
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			_ = jsonEncoder(&buf).Encode(week)
		}
		b.SetBytes(int64(buf.Len()))
	})
}

// TestEntriesJSONIsBounded: a list refuses to grow past
// agenda.MaxAgendaBytes (an answer is built whole before it is written).
func TestEntriesJSONIsBounded(t *testing.T) {
	e := agenda.Entry{AppointmentID: "a", Title: "t", Description: strings.Repeat("d", 2000), Start: time.Unix(0, 0).UTC(), End: time.Unix(60, 0).UTC()}
	j := newEntriesJSON()
	defer j.release()
	var err error
	n := 0
	for ; err == nil && n < 2*agenda.MaxAgendaBytes/2000; n++ {
		err = j.add(&e)
	}
	var ae *agenda.Error
	if !errors.As(err, &ae) || ae.Details["max_bytes"] != agenda.MaxAgendaBytes {
		t.Fatalf("after %d entries of 2 KB: %v, want the list refused past %d bytes", n, err, agenda.MaxAgendaBytes)
	}
	// n entries with their commas and the bracket: past the bound, n-1 not.
	per := len(appendEntry(nil, &e)) + 1
	if n*per <= agenda.MaxAgendaBytes || (n-1)*per > agenda.MaxAgendaBytes {
		t.Errorf("refused at entry %d of %d bytes: not where the list passes %d bytes", n, per, agenda.MaxAgendaBytes)
	}
}
