package events

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzIsCompact: on valid JSON, isCompact answers as comparing the data
// with json.Compact's output does.
func FuzzIsCompact(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a": 1}`, ` {"a":1}`, `{"a":1} `, `{"a":"x y"}`, `{"a":"x\" y"}`,
		`{"a":"x\\"," b":[1, 2]}`, `{"a":"\\\\"}`, `{"a":"\\\\" }`, "{\"a\":\n1}", "{\"a\":\"\\t\"}",
		`[1,2,{"b":"\u0022 "}]`, `"  "`, `null`, `{"a":"é ü"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		var buf bytes.Buffer
		want := json.Compact(&buf, data) == nil && bytes.Equal(buf.Bytes(), data)
		if got := isCompact(data); got != want {
			t.Fatalf("isCompact(%q) = %v, json.Compact says %v", data, got, want)
		}
	})
}
