package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agendahq/agenda"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// decodeBody decodes a JSON request body into dst strictly: the content type
// must be JSON, the body at most maxBodyBytes, a single object with no
// unknown fields and nothing after it. Every failure is a client error.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return agenda.Errorf(agenda.EUNSUPPORTEDMEDIATYPE, "Content-Type must be application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return agenda.Errorf(agenda.EUNSUPPORTEDMEDIATYPE, "Content-Type must be application/json, not %q", ct)
	}
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	return decodeJSON(body, dst)
}

// decodeJSON is the reader-level half of decodeBody (and the fuzz target).
// Beyond encoding/json's own checks it insists that field names match
// exactly (encoding/json matches them case-insensitively) and appear once:
// {"username":"a","username":"admin"} is refused, not read as "admin".
func decodeJSON(body io.Reader, dst any) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return jsonError(err)
	}
	if err := checkKeys(data, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return agenda.Errorf(agenda.EINVALID, "request body must hold a single JSON object")
	}
	return nil
}

// checkKeys walks the top-level object of data and refuses keys that are
// not exactly a JSON field name of dst's struct type, or that repeat.
func checkKeys(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return agenda.Errorf(agenda.EINVALID, "request body must be a JSON object")
	}
	allowed := fieldNames(reflect.TypeOf(dst))
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(err)
		}
		key, _ := tok.(string)
		if !allowed[key] {
			return agenda.Errorf(agenda.EINVALID, "unknown field %q", key).WithDetails(map[string]any{"field": key})
		}
		if seen[key] {
			return agenda.Errorf(agenda.EINVALID, "field %q appears twice", key).WithDetails(map[string]any{"field": key})
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return jsonError(err)
		}
	}
	return nil
}

var fieldNameCache sync.Map // reflect.Type → map[string]bool

// fieldNames returns the JSON names of the fields of the struct t points to.
func fieldNames(t reflect.Type) map[string]bool {
	if v, ok := fieldNameCache.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			names[name] = true
		}
	}
	fieldNameCache.Store(t, names)
	return names
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return agenda.Errorf(agenda.ETOOLARGE, "request body exceeds %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return agenda.Errorf(agenda.EINVALID, "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return agenda.Errorf(agenda.EINVALID, "request body is truncated JSON")
	case errors.As(err, &syntax):
		return agenda.Errorf(agenda.EINVALID, "request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return agenda.Errorf(agenda.EINVALID, "request body must be a JSON object")
		}
		return agenda.Errorf(agenda.EINVALID, "field %q must be %s", typ.Field, jsonKind(typ.Type.Kind().String())).
			WithDetails(map[string]any{"field": typ.Field})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return agenda.Errorf(agenda.EINVALID, "unknown field %q", field).WithDetails(map[string]any{"field": field})
	}
	return agenda.Errorf(agenda.EINVALID, "request body is not valid: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int64", "float64", "uint64":
		return "a number"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return "of another type"
}

// parseTime parses an RFC 3339 time from a named field or parameter.
func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, agenda.Errorf(agenda.EINVALID, "%s is required", field).WithDetails(map[string]any{"field": field})
	}
	t, err := time.Parse(time.RFC3339, s)
	if err == nil && (t.Before(agenda.MinTime) || t.After(agenda.MaxTime)) {
		return time.Time{}, agenda.Errorf(agenda.EINVALID, "%s must be between 1900 and 2200", field).
			WithDetails(map[string]any{"field": field})
	}
	if err != nil {
		return time.Time{}, agenda.Errorf(agenda.EINVALID, "%s must be an RFC 3339 time such as 2026-12-01T09:00:00Z", field).
			WithDetails(map[string]any{"field": field})
	}
	return t.UTC(), nil
}

// optionalTime parses a time field of a PATCH body (nil if absent).
func optionalTime(field string, s *string) (*time.Time, error) {
	if s == nil {
		return nil, nil
	}
	t, err := parseTime(field, *s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// parseIfMatch reads If-Match: "<version>" (quotes optional; W/ refused).
func parseIfMatch(r *http.Request) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return 0, nil
	}
	var v int64
	if _, err := fmt.Sscanf(strings.Trim(h, `"`), "%d", &v); err != nil || v < 1 || fmt.Sprint(v) != strings.Trim(h, `"`) {
		return 0, agenda.Errorf(agenda.EINVALID, `If-Match must be a version such as "3"`)
	}
	return v, nil
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", fmt.Sprintf(`"%d"`, version))
}

// emptyBody refuses a body on an endpoint that takes none (an empty JSON
// object is accepted), so a client that thinks it is sending something
// learns it is not.
func emptyBody(r *http.Request) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return agenda.Errorf(agenda.EINVALID, "could not read the body")
	}
	switch strings.Join(strings.Fields(string(data)), "") {
	case "", "{}":
		return nil
	}
	return agenda.Errorf(agenda.EINVALID, "this endpoint takes no body")
}

// queryInt reads an optional integer parameter within [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, agenda.Errorf(agenda.EINVALID, "%s must be an integer from %d to %d", name, lo, hi).
			WithDetails(map[string]any{"field": name})
	}
	return n, nil
}

// queryBool reads an optional boolean parameter: true, false, 1 or 0.
func queryBool(r *http.Request, name string) (bool, error) {
	switch r.URL.Query().Get(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, agenda.Errorf(agenda.EINVALID, "%s must be true or false", name).WithDetails(map[string]any{"field": name})
}
