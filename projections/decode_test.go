package projections

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/agendahq/agenda/events"
)

// FuzzDecodeCommitted: from any envelope the strict decoder accepts, the
// projections' fast decoder reads the same event. Seeded with the golden
// fixtures of every event type, and with a name in another case, which
// encoding/json matches and the fast decoder, without RejectUnknownMembers,
// silently ignored (the fuzzer found it).
func FuzzDecodeCommitted(f *testing.F) {
	fixtures, err := filepath.Glob(filepath.Join("..", "events", "testdata", "*.json"))
	if err != nil || len(fixtures) == 0 {
		f.Fatalf("no golden event fixtures to seed the corpus (%v)", err)
	}
	for _, path := range fixtures {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"0","stream":"0","type":"group.created","schema_version":1,` +
		`"data":{"group_id":"a2","nAme":"00","desCription":"0","CreAtor_id":"00"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var env events.Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			return
		}
		want, err := env.Decode()
		if err != nil {
			return
		}
		got, err := decodeCommitted(&env)
		if err != nil {
			t.Fatalf("decodeCommitted refused what Decode read: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeCommitted read another event\n got: %#v\nwant: %#v", got, want)
		}
	})
}
