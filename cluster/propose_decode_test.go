package cluster

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/agendahq/agenda/events"
)

// TestForwardedBatchDecodesAsBefore: a forwarded proposal is accepted or
// refused, and read, exactly as the strict encoding/json decoder (decode)
// did before the faster one was tried first; the faster one refuses
// differently cased names, trailing data and unknown fields, and the old
// decoder decides those.
func TestForwardedBatchDecodesAsBefore(t *testing.T) {
	const ev = `{"id":"e1","stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05.5+01:00","data":{"group_id":"g"}}`
	for _, body := range []string{
		`{"events":[` + ev + `],"expect":[{"stream":"s","version":0}]}`,
		`{"Events":[` + ev + `],"EXPECT":[{"Stream":"s","version":0}]}`,
		`{"events":[` + ev + `],"expect":[]} {"trailing":true}`,
		`{"events":[` + ev + `],"expect":[],"extra":1}`,
		`{"events":[{"id":"e1","unknown":2}]}`,
		`{"events":[],"events":[` + ev + `]}`,
		`{"events":[{"id":"e1","time":"2026-01-02T03:04:05,5Z"}]}`,
		`{"events":null}`, `null`, `[]`, ``, `{`,
	} {
		var want events.Batch
		werr := decode(httptest.NewRequest("POST", "/internal/propose", strings.NewReader(body)), &want)
		got, gerr := decodeBatch(httptest.NewRequest("POST", "/internal/propose", strings.NewReader(body)))
		if (gerr == nil) != (werr == nil) {
			t.Errorf("%s: verdict %v, before %v", body, gerr, werr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: read\n%#v\nbefore\n%#v", body, got, want)
		}
	}
}
