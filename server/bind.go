package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/swaggest/jsonschema-go"

	"github.com/gallerist/gallerist/storage"
)

// maxJSONBody caps JSON request bodies; uploads have their own limits.
const maxJSONBody = 1 << 20

// bindJSON decodes the request body strictly into dst: unknown fields, trailing data and
// wrong types are invalid_request. The body is read as JSON whatever the Content-Type,
// because `curl -d` sends form encoding by default and the seed's examples rely on it.
func bindJSON(c echo.Context, dst any) error {
	body := http.MaxBytesReader(c.Response(), c.Request().Body, maxJSONBody)
	raw, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apiError("request_too_large", "the JSON body is larger than %d bytes", maxJSONBody)
		}
		return err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return apiError("invalid_request", "the request needs a JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return apiError("invalid_request", "field %q must be %s", te.Field, te.Type.String()).withDetails("field", te.Field)
		case errors.As(err, &se):
			return apiError("invalid_request", "malformed JSON at byte %d", se.Offset)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return apiError("invalid_request", "unknown field %q", field).withDetails("field", field)
		}
		return apiError("invalid_request", "invalid JSON: %v", err)
	}
	if dec.More() {
		return apiError("invalid_request", "unexpected data after the JSON value")
	}
	return nil
}

// pathID reads a positive integer path parameter.
func pathID(c echo.Context, name string) (int64, error) {
	v := c.Param(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidParam(name, "must be a positive integer, got %q", v)
	}
	return id, nil
}

// queryInt reads an optional integer query parameter within [lo, hi].
func queryInt(c echo.Context, name string, def, lo, hi int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalidParam(name, "must be a whole number from %d to %d, got %q", lo, hi, v)
	}
	return n, nil
}

// Page sizes of every list: 50 by default, at most 200.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// pageParams reads the limit and offset query parameters of a list.
func pageParams(c echo.Context) (limit, offset int, err error) {
	if limit, err = queryInt(c, "limit", defaultPageSize, 1, maxPageSize); err != nil {
		return 0, 0, err
	}
	if offset, err = queryInt(c, "offset", 0, 0, 1<<31-1); err != nil {
		return 0, 0, err
	}
	return limit, offset, nil
}

// queryBool reads an optional true/false query parameter.
func queryBool(c echo.Context, name string) (*bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, invalidParam(name, "must be true or false, got %q", v)
	}
	return &b, nil
}

// OptString is a JSON field that distinguishes absent, null and a value (for PATCH).
type OptString struct {
	Set   bool
	Null  bool
	Value string
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *OptString) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// JSONSchema describes the field as a nullable string.
func (OptString) JSONSchema() (jsonschema.Schema, error) {
	var s jsonschema.Schema
	s.Type = &jsonschema.Type{SliceOfSimpleTypeValues: []jsonschema.SimpleType{jsonschema.String, jsonschema.Null}}
	return s, nil
}

// OptInt is a nullable integer field of a PATCH body.
type OptInt struct {
	Set   bool
	Null  bool
	Value int64
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *OptInt) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// JSONSchema describes the field as a nullable integer.
func (OptInt) JSONSchema() (jsonschema.Schema, error) {
	var s jsonschema.Schema
	s.Type = &jsonschema.Type{SliceOfSimpleTypeValues: []jsonschema.SimpleType{jsonschema.Integer, jsonschema.Null}}
	return s, nil
}

// OptTime is a nullable RFC 3339 time field of a PATCH body.
type OptTime struct {
	Set   bool
	Null  bool
	Value time.Time
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *OptTime) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time: %q", s)
	}
	o.Value = t
	return nil
}

// JSONSchema describes the field as a nullable date-time string.
func (OptTime) JSONSchema() (jsonschema.Schema, error) {
	var s jsonschema.Schema
	s.Type = &jsonschema.Type{SliceOfSimpleTypeValues: []jsonschema.SimpleType{jsonschema.String, jsonschema.Null}}
	s.WithFormat("date-time")
	return s, nil
}

// IDRef is a reference that accepts an integer id or a slug (category_id), or null.
type IDRef struct {
	Set   bool
	Null  bool
	Value string
}

// UnmarshalJSON implements json.Unmarshaler.
func (r *IDRef) UnmarshalJSON(b []byte) error {
	r.Set = true
	if string(b) == "null" {
		r.Null = true
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		r.Value = n.String()
		return nil
	}
	return json.Unmarshal(b, &r.Value)
}

// JSONSchema describes the field as an id, a slug or null.
func (IDRef) JSONSchema() (jsonschema.Schema, error) {
	var s jsonschema.Schema
	s.Type = &jsonschema.Type{SliceOfSimpleTypeValues: []jsonschema.SimpleType{jsonschema.Integer, jsonschema.String, jsonschema.Null}}
	s.WithDescription("A category id or slug; null removes the category.")
	return s, nil
}

// photoCursor is the opaque form of a keyset position: the sort it belongs to, the sort
// value and the id of the last photo of a page.
type photoCursor struct {
	Sort  string `json:"s"`
	Value any    `json:"v"`
	ID    int64  `json:"i"`
}

// encodeCursor makes the next_cursor of a page whose last photo is p.
func encodeCursor(sort string, p *storage.Photo) string {
	if sort == "" {
		sort = "upload_date_desc"
	}
	c := storage.CursorAfter(sort, p)
	b, _ := json.Marshal(photoCursor{Sort: sort, Value: c.Value, ID: c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// queryCursor reads the cursor parameter of a photo list sorted by sort.
func queryCursor(c echo.Context, sort string) (*storage.PhotoCursor, error) {
	raw := c.QueryParam("cursor")
	if raw == "" {
		return nil, nil
	}
	if sort == "" {
		sort = "upload_date_desc"
	}
	bad := invalidParam("cursor", "must be a next_cursor of this list with the same sort")
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return nil, bad
	}
	var pc photoCursor
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if dec.Decode(&pc) != nil || pc.Sort != sort || pc.ID <= 0 {
		return nil, bad
	}
	v := pc.Value
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			v = i
		} else if f, err := n.Float64(); err == nil {
			v = f
		} else {
			return nil, bad
		}
	}
	switch v.(type) {
	case string, int64, float64:
	default:
		return nil, bad
	}
	return &storage.PhotoCursor{Value: v, ID: pc.ID}, nil
}
