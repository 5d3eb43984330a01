package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/agendahq/agenda"
	"github.com/agendahq/agenda/commands"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 64 << 10

// decodeBody decodes a JSON request body into dst strictly: the content type
// must be JSON, the body at most maxBodyBytes, a single object with no
// unknown fields and nothing after it. Every failure is a client error.
func decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return agenda.Errorf(agenda.EUNSUPPORTEDMEDIATYPE, "Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return agenda.Errorf(agenda.EUNSUPPORTEDMEDIATYPE, "Content-Type must be application/json, not %q", ct)
	}
	// JSON is UTF-8 (RFC 8259 8.1); a body said to be in another charset
	// would be read as something it is not.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return agenda.Errorf(agenda.EUNSUPPORTEDMEDIATYPE, "JSON bodies are UTF-8, not %q", cs)
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
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return jsonError(err)
		}
		// A client that stalls or drops mid-body: the error names the
		// connection's addresses, which are nobody's business.
		return agenda.Errorf(agenda.EINVALID, "could not read the request body (sent too slowly or cut off)")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return agenda.Errorf(agenda.EINVALID, "request body is empty")
	}
	if err := checkText(data); err != nil {
		return err
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

// checkText refuses a body that is not valid UTF-8, or whose strings
// escape a lone UTF-16 surrogate (\ud800 without its pair): encoding/json
// would silently store U+FFFD in place of either, so what was sent would
// not be what is kept.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		return agenda.Errorf(agenda.EINVALID, "request body is not valid UTF-8")
	}
	bad := agenda.Errorf(agenda.EINVALID, "request body holds an invalid \\u escape (a lone UTF-16 surrogate)")
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\' && i+1 < len(data):
			if data[i+1] != 'u' {
				i++ // a two-character escape: skip the escaped character
				continue
			}
			r, ok := hex4(data, i+2)
			if !ok {
				continue // malformed; the decoder reports it
			}
			i += 5
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00: // high: a low one must follow
				if i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
					if lo, ok := hex4(data, i+3); ok && lo >= 0xdc00 && lo <= 0xdfff {
						i += 6
						continue
					}
				}
				return bad
			case utf16.IsSurrogate(r): // a low one on its own
				return bad
			}
		}
	}
	return nil
}

// hex4 reads four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(data[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// checkKeys walks the top-level object of data and refuses keys that are
// not exactly a JSON field name of dst's struct type, that repeat, or whose
// value is null.
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
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return jsonError(err)
		}
		// No request field is nullable: encoding/json would take null as
		// the field left out, so {"title": null} in a change kept the
		// title without a word (a review found it), and a client could
		// not tell the two apart in our answers.
		if string(value) == "null" {
			return agenda.Errorf(agenda.EINVALID, "field %q may not be null: leave it out instead", key).
				WithDetails(map[string]any{"field": key})
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
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// decodeJSON has refused an empty body already: an end of input
		// here is an object cut short.
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
	// Anything else: a fixed message, as the error's text may name
	// internals (a reader's or a connection's).
	return agenda.Errorf(agenda.EINVALID, "request body is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		// 1.5, 1e2 and 99999999999999999999 are numbers, but not integers
		// the field can hold.
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "struct", "map":
		return "an object"
	case "slice":
		return "an array"
	}
	return "of another type"
}

// rfc3339 is the shape of an RFC 3339 date-time (section 5.6): time.Parse
// alone takes what it is not (a one-digit hour, a comma before the
// fraction) and refuses what it is (a lower-case t or z). The fraction is
// kept whole, so that one finer than nanoseconds is refused rather than
// cut.
var rfc3339 = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$`)

// parseTime parses an RFC 3339 time from a named field or parameter.
// time.Parse alone accepts offsets RFC 3339 does not (+24:00, or +12:60 read
// as +13:00); validOffset refuses them.
func parseTime(field, s string) (time.Time, error) {
	refuse := func(format string) (time.Time, error) {
		return time.Time{}, agenda.Errorf(agenda.EINVALID, format, field).WithDetails(map[string]any{"field": field})
	}
	if s == "" {
		return refuse("%s is required")
	}
	m := rfc3339.FindStringSubmatch(s)
	if m == nil {
		return refuse("%s must be an RFC 3339 time such as 2026-12-01T09:00:00Z")
	}
	if len(m[3]) > 10 {
		return refuse("%s has a fraction of a second finer than nanoseconds (at most 9 digits)")
	}
	s = m[1] + "T" + m[2] + m[3] + strings.ToUpper(m[4])
	t, err := time.Parse(time.RFC3339, s)
	switch {
	case err != nil:
		return refuse("%s must be an RFC 3339 time such as 2026-12-01T09:00:00Z")
	case !validOffset(s):
		return refuse("%s has an offset outside -23:59..+23:59")
	case t.Before(agenda.MinTime) || t.After(agenda.MaxTime):
		return refuse("%s must be between 1900 and 2200")
	}
	return t.UTC(), nil
}

// parseQueryTime is parseTime for a query parameter. A time written
// unescaped in a query string ("?from=2026-12-01T00:00:00+01:00") has its
// offset's + turned into a space by URL decoding: the refusal of such a
// time, one that would be valid with a + there, says to write it %2B.
func parseQueryTime(field, s string) (time.Time, error) {
	t, err := parseTime(field, s)
	if err != nil && plusAsSpace(s) {
		return time.Time{}, agenda.Errorf(agenda.EINVALID,
			"%s must be an RFC 3339 time such as 2026-12-01T09:00:00Z; the + of its offset reads as a space in a query string: write it %%2B", field).
			WithDetails(map[string]any{"field": field})
	}
	return t, err
}

// plusAsSpace reports whether s would be a valid time had its last space
// been a +.
func plusAsSpace(s string) bool {
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return false
	}
	_, err := parseTime("", s[:i]+"+"+s[i+1:])
	return err == nil
}

// validOffset reports whether the time s (which time.Parse accepted as RFC
// 3339) ends in Z or in an offset of hours 00–23 and minutes 00–59.
func validOffset(s string) bool {
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		return true
	}
	if len(s) < 6 {
		return false
	}
	off := s[len(s)-6:]
	if (off[0] != '+' && off[0] != '-') || off[3] != ':' {
		return false
	}
	h, err1 := strconv.Atoi(off[1:3])
	m, err2 := strconv.Atoi(off[4:6])
	return err1 == nil && err2 == nil && h <= 23 && m <= 59
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

// bodilessIfMatch reads what a write to one resource that takes no body
// (a DELETE, an answer to an invitation) takes: no body, and If-Match.
func bodilessIfMatch(r *http.Request) (commands.IfMatch, error) {
	if err := emptyBody(r); err != nil {
		return commands.IfMatch{}, err
	}
	return parseIfMatch(r)
}

// parseIfMatch reads If-Match as RFC 9110 (13.1.1) defines it: "*" matches
// any current version (no check); otherwise a list of entity tags compared
// strongly, any of which may match, so a weak tag (W/"3") never matches —
// the request then fails with 412, not 400. A bare version ("3", unquoted)
// is taken as "3", a leniency for hand-written requests; anything else that
// is not an entity tag is invalid.
//
// A header sent empty is a list of no tags, which nothing matches (412), as
// "," is: a client whose ETag variable was empty meant a conditional write,
// and taking it as none overwrote what it had not read.
func parseIfMatch(r *http.Request) (commands.IfMatch, error) {
	values := r.Header.Values("If-Match")
	h := strings.TrimSpace(strings.Join(values, ","))
	if len(values) == 0 || h == "*" {
		return commands.IfMatch{}, nil
	}
	bad := agenda.Errorf(agenda.EINVALID, `If-Match must be "*" or entity tags such as "3"`)
	var strong []int64
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "" {
			continue // empty list elements are allowed (RFC 9110 5.6.1)
		}
		weak := strings.HasPrefix(tag, "W/")
		tag = strings.TrimPrefix(tag, "W/")
		opaque, quoted := strings.CutPrefix(tag, `"`)
		if quoted {
			if opaque, quoted = strings.CutSuffix(opaque, `"`); !quoted || !isETag(opaque) {
				return commands.IfMatch{}, bad
			}
		} else if weak || !isVersion(tag) {
			return commands.IfMatch{}, bad // only our own bare versions are taken unquoted
		}
		if !weak && isVersion(opaque) {
			v, _ := strconv.ParseInt(opaque, 10, 64)
			strong = append(strong, v)
		}
		// A weak tag, or one that is none of our versions, matches nothing.
	}
	return commands.Versions(strong...), nil
}

// isVersion reports whether s is a version as ETags carry it: a positive
// integer written canonically.
func isVersion(s string) bool {
	v, err := strconv.ParseInt(s, 10, 64)
	return err == nil && v >= 1 && strconv.FormatInt(v, 10) == s
}

// isETag reports whether raw is a valid opaque-tag body (RFC 9110 8.8.3:
// %x21 / %x23-7E / obs-text).
func isETag(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < 0x21 || c == '"' || c == 0x7f {
			return false
		}
	}
	return true
}

// emptyBody refuses a body on an endpoint that takes none (an empty JSON
// object is accepted), so a client that thinks it is sending something
// learns it is not.
func emptyBody(r *http.Request) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return agenda.Errorf(agenda.EINVALID, "could not read the body")
	}
	if len(data) > maxBodyBytes {
		return agenda.Errorf(agenda.ETOOLARGE, "request body exceeds %d bytes", maxBodyBytes)
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
	return false, agenda.Errorf(agenda.EINVALID, "%s must be true or false (or 1 or 0)", name).WithDetails(map[string]any{"field": name})
}

// strongConsistency parses ?consistency= (or X-Agenda-Consistency):
// "strong", or "default"/empty for a local read.
func strongConsistency(r *http.Request) (bool, error) {
	v, err := queryOrHeader(r, "consistency", "X-Agenda-Consistency")
	if err != nil {
		return false, err
	}
	switch v {
	case "", "default":
		return false, nil
	case "strong":
		return true, nil
	}
	return false, agenda.Errorf(agenda.EINVALID, "consistency must be strong or default").
		WithDetails(map[string]any{"field": "consistency"})
}

// queryOrHeader returns a parameter a client may send in the query or in a
// header. Sent both ways, the two must agree: one silently winning over the
// other (as the query did, an attacker's review found) would answer a
// request other than the one the client meant.
func queryOrHeader(r *http.Request, name, header string) (string, error) {
	q, h := r.URL.Query().Get(name), r.Header.Get(header)
	if q != "" && h != "" && q != h {
		return "", agenda.Errorf(agenda.EINVALID, "%s is given twice, %q in the query and %q in %s", name, q, h, header).
			WithDetails(map[string]any{"field": name})
	}
	if q != "" {
		return q, nil
	}
	return h, nil
}
