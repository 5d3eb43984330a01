package fastjson_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/agendahq/agenda/events"
	"github.com/agendahq/agenda/internal/fastjson"
)

// seeds returns the golden fixture of every event type, each as an
// envelope and as a batch of one, plus inputs on which the two decoders
// part: names in another case (encoding/json matches them, the faster
// decoder, without RejectUnknownMembers, silently ignored them: the fuzzer
// found it), duplicate names, offsets other than Z, a comma before the
// fraction of a second (encoding/json reads it, the faster decoder does
// not), data that is null or not an object, and trailing data.
func seeds(f *testing.F) [][]byte {
	fixtures, err := filepath.Glob(filepath.Join("..", "..", "events", "testdata", "*.json"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no golden event fixtures to seed the corpus (%v)", err)
	}
	var out [][]byte
	for _, path := range fixtures {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b, append(append([]byte(`{"events":[`), b...), `],"expect":[{"stream":"s","version":0}]}`...))
	}
	for _, s := range []string{
		`{"id":"0","stream":"0","type":"group.created","schema_version":1,"data":{"group_id":"a2","nAme":"00","desCription":"0","CreAtor_id":"00"}}`,
		`{"id":"e","stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05+02:00","data":{"group_id":"g","name":"n","name":"m"}}`,
		`{"id":"e","stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05-00:00","data":null}`,
		`{"id":"e","stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05,5Z","data":[]}`,
		`{"id":"e","stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05Z","data":{"group_id":"g"} }x`,
		`{"events":[{"ID":"e","Stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05Z","data":{ "group_id" : "g" }}],"expect":null}`,
		`{"events":[{"id":"e","stream":"s","version":1.0,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05Z","data":{}}],"extra":1}`,
		`{"events":null,"expect":[{"stream":"s","version":-1}]} `,
		`{"events":[{"id":"e","stream":"s","version":1,"type":"group.created","schema_version":1,"time":"2026-01-02T03:04:05\u005a","data":{}}]}`,
		`{"id":"e","stream":"s","version":1,"type":"agenda.entry_added","schema_version":1,"time":"2026-01-02T03:04:05Z","data":{"user_id":"u","appointment_id":"a","start":"2026-01-02T03:04:05\u005a","end":"2026-01-02T04:04:05Z","role":"owner"}}`,
		`{"id":"e","stream":"s","version":1,"type":"agenda.entry_added","schema_version":1,"time":"2026-01-02T03:04:05Z","data":{"user_id":"u","appointment_id":"a","start":null,"end":"2026-01-02T04:04:05+02:00","role":"owner"}}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzUnmarshalBatch: whatever batch the faster decoder reads, encoding/json
// reads the same (so Unmarshal's verdict is always encoding/json's: a
// replica of any build decodes an entry alike), and Unmarshal agrees with
// encoding/json on every input.
func FuzzUnmarshalBatch(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want events.Batch
		werr := json.Unmarshal(raw, &want)
		var fast events.Batch
		if fastjson.Try(raw, &fast) == nil {
			if werr != nil {
				t.Fatalf("the faster decoder read a batch encoding/json refuses (%v)", werr)
			}
			sameBatch(t, fast, want)
		}
		got, gerr := fastjson.Unmarshal[events.Batch](raw, json.Unmarshal)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("Unmarshal's verdict %v, encoding/json's %v", gerr, werr)
		}
		if werr == nil {
			sameBatch(t, got, want)
		}
	})
}

// FuzzDecodeWith: an event's verdict and value are the same whether it is
// decoded strictly (Decode, as every earlier build's state machine did) or
// with the faster decoder first (DecodeWith(fastjson.Try), as the state
// machine, Propose and the projections now do), in both directions.
func FuzzDecodeWith(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var env events.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			return
		}
		want, werr := env.Decode()
		got, gerr := env.DecodeWith(fastjson.Try)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("DecodeWith's verdict %v, Decode's %v", gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeWith read another event\n got: %#v\nwant: %#v", got, want)
		}
	})
}

// sameBatch fails unless a and b are equal field by field, times included
// down to their zone (a replica stores the time as it formats it).
func sameBatch(t *testing.T, a, b events.Batch) {
	t.Helper()
	if len(a.Events) != len(b.Events) || !reflect.DeepEqual(a.Expect, b.Expect) {
		t.Fatalf("batches differ:\n%#v\n%#v", a, b)
	}
	for i := range a.Events {
		x, y := a.Events[i], b.Events[i]
		if x.Time.Format(time.RFC3339Nano) != y.Time.Format(time.RFC3339Nano) || x.Time.Location().String() != y.Time.Location().String() {
			t.Fatalf("event %d: time %v against %v", i, x.Time, y.Time)
		}
		if !bytes.Equal(x.Data, y.Data) || (x.Data == nil) != (y.Data == nil) {
			t.Fatalf("event %d: data %q against %q", i, x.Data, y.Data)
		}
		x.Time, y.Time, x.Data, y.Data = time.Time{}, time.Time{}, nil, nil
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("event %d differs:\n%#v\n%#v", i, x, y)
		}
	}
}
