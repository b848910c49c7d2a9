package jsonbody_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/api"
	"github.com/midata/midata/pipeline/api/jsonbody"
	"github.com/midata/midata/pipeline/api/wire"
)

// bodyTypes are the bodies the API decodes with jsonbody.Decode.
var bodyTypes = []func() any{
	func() any { return new(wire.CustomerReleaseRequest) },
	func() any { return new(wire.ReleaseRequest) },
	func() any { return new(wire.GrantChange) },
	func() any { return new(api.ScheduleRequest) },
}

// bodyLimits are the limits Decode is given: the API's, and small ones so
// that the fuzzer reaches the limit.
var bodyLimits = []int64{api.MaxBodyBytes, 256, 48}

// FuzzDecode holds jsonbody.Decode, over the API's body types, to its
// promise on any body and content type: no panic; every error an *Error
// with a 4xx status (415 exactly when the content type is not JSON, 413
// only for a body over the limit); and it accepts exactly what
// encoding/json's Decoder with DisallowUnknownFields reads as one JSON
// object with nothing but white space after it, within the limit, giving
// the same value, with every name of the object one of the type's fields.
//
// The seed corpus is in testdata/fuzz/FuzzDecode. Its seed
// null-is-not-an-object fails until Decode refuses the body null, which
// encoding/json decodes into a struct pointer as a no-op without error, so
// Decode takes it as {}.
func FuzzDecode(f *testing.F) {
	for _, seed := range []struct {
		which       uint8
		contentType string
		body        string
	}{
		{0, "application/json", `{"from":"2026-01-01","to":"2026-02-01","formats":["midata-csv","ndjson"],"idempotency_key":"k-1"}`},
		{1, "", `{"recipient":"partner:pds-one","customers":["C1","C2"],"from":"2026-01-01T00:00:00Z","to":"2026-02-01T00:00:00Z","formats":["csv"]}`},
		{1, "application/json; charset=utf-8", `{"recipient":"self","all":true,"from":"2026-01-01","to":"2026-02-01","formats":["json"]}`},
		{2, "application/json", `{"categories":["transactions","merchant"],"window_from":"2026-01-01","expires_at":"2027-01-01T00:00:00Z"}`},
		{3, "", `{"id":"monthly","cron":"0 3 1 * *","recipient":"self","all":true,"period":"previous-month","formats":["ndjson"],"paused":false}`},
		{2, "", ` {"categories":[]} ` + "\n"},
		{2, "", `{"categories":["transactions"]} {}`},
		{2, "", `{"categories":["transactions"],"categorie":[]}`},
		{0, "", `{"FROM":"2026-01-01","From":"2026-02-01"}`},
		{0, "", `{"from":1}`},
		{0, "", `[{"from":"2026-01-01"}]`},
		{0, "", `"from"`},
		{0, "", `{"from":"2026-01-01"`},
		{0, "", ``},
		{0, "text/plain", `{}`},
		{0, "application/json;", `{}`},
		{8, "", `{"to":"` + strings.Repeat("9", 60) + `"}`},
		{1, "", `{"all":tru}`},
	} {
		f.Add(seed.which, seed.contentType, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, which uint8, contentType string, body []byte) {
		newBody := bodyTypes[int(which)%len(bodyTypes)]
		limit := bodyLimits[int(which)/len(bodyTypes)%len(bodyLimits)]
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		got := newBody()
		err := jsonbody.Decode(httptest.NewRecorder(), r, got, limit)

		jsonType := true
		if contentType != "" {
			mt, _, perr := mime.ParseMediaType(contentType)
			jsonType = perr == nil && mt == "application/json"
		}
		want, wantErr := reference(body, newBody)
		wantOK := jsonType && int64(len(body)) <= limit && wantErr == nil

		if err != nil {
			e, ok := jsonbody.As(err)
			switch {
			case !ok:
				t.Fatalf("Decode(%q) = %v (%T), want a *jsonbody.Error", body, err, err)
			case e.Status < 400 || e.Status > 499 || e.Msg == "":
				t.Fatalf("Decode(%q) = %d %q, want a 4xx status and a message", body, e.Status, e.Msg)
			case !jsonType && e.Status != http.StatusUnsupportedMediaType:
				t.Fatalf("content type %q: %d %q, want 415", contentType, e.Status, e.Msg)
			case jsonType && e.Status == http.StatusUnsupportedMediaType:
				t.Fatalf("content type %q is JSON, answered 415", contentType)
			case e.Status == http.StatusRequestEntityTooLarge && int64(len(body)) <= limit:
				t.Fatalf("a body of %d bytes answered 413 for a limit of %d", len(body), limit)
			case wantOK:
				t.Fatalf("Decode(%T, %q) refused what encoding/json reads as one object: %v", got, body, err)
			}
			return
		}
		switch {
		case !jsonType:
			t.Fatalf("accepted content type %q", contentType)
		case int64(len(body)) > limit:
			t.Fatalf("accepted a body of %d bytes with a limit of %d", len(body), limit)
		case wantErr != nil:
			t.Fatalf("Decode(%T) accepted %q; encoding/json with DisallowUnknownFields: %v", got, body, wantErr)
		case !reflect.DeepEqual(got, want):
			t.Fatalf("Decode(%q) = %+v, encoding/json %+v", body, got, want)
		}
		fields := jsonNames(reflect.TypeOf(got).Elem())
		for _, name := range objectNames(t, body) {
			known := false
			for _, f := range fields {
				known = known || strings.EqualFold(name, f)
			}
			if !known {
				t.Fatalf("Decode(%T) accepted %q with the unknown field %q", got, body, name)
			}
		}
	})
}

// reference decodes body as the API's bodies are meant to be read, with
// encoding/json alone: one JSON object, no unknown field, nothing after it
// but white space.
func reference(body []byte, newBody func() any) (any, error) {
	dst := newBody()
	if first := bytes.TrimLeft(body, " \t\r\n"); len(first) == 0 || first[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more after the object")
	}
	return dst, nil
}

// objectNames returns the names of the JSON object body holds.
func objectNames(t *testing.T, body []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("accepted %q, not an object: %v, %v", body, tok, err)
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		names = append(names, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
	}
	return names
}

// jsonNames lists the JSON names of the exported fields of a struct type.
func jsonNames(typ reflect.Type) []string {
	var names []string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}
