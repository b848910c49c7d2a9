package jsonbody_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/api/jsonbody"
)

type target struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags,omitempty"`
}

func TestDecodeAcceptsOneObjectOfKnownFields(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"a","count":2}`))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	var got target
	if err := jsonbody.Decode(httptest.NewRecorder(), r, &got, 1<<10); err != nil {
		t.Fatalf("Decode = %v", err)
	}
	if got.Name != "a" || got.Count != 2 {
		t.Errorf("Decode gave %+v", got)
	}
}

func TestDecodeRefusesWhatIsNotOneObjectOfKnownFields(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		says                    string
	}{
		{"another content type", "text/plain", `{}`, http.StatusUnsupportedMediaType, `content type "text/plain"`},
		{"a body over the limit", "", `{"name":"` + strings.Repeat("x", 100) + `"}`, http.StatusRequestEntityTooLarge, "over 64 bytes"},
		{"an empty body", "", ``, http.StatusBadRequest, "the body is empty"},
		{"a second object", "", `{"name":"a"}{}`, http.StatusBadRequest, "more after its JSON object"},
		{"not JSON", "", `{name}`, http.StatusBadRequest, "not JSON"},
		{"a field of the wrong type", "", `{"count":"2"}`, http.StatusBadRequest, `field "count" is a JSON string: want a number`},
		{"an array instead of an object", "", `[1]`, http.StatusBadRequest, "the body is a JSON array"},
		{"a cut-off object", "", `{"name":"a"`, http.StatusBadRequest, "ends inside its JSON object"},
		{"an unknown field", "", `{"nmae":"a"}`, http.StatusBadRequest, `unknown field "nmae": remove it (known: name, count, tags)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			var got target
			err := jsonbody.Decode(httptest.NewRecorder(), r, &got, 64)
			e, ok := jsonbody.As(err)
			if !ok {
				t.Fatalf("Decode = %v, want a *jsonbody.Error", err)
			}
			if e.Status != tc.status || !strings.Contains(e.Msg, tc.says) {
				t.Errorf("Decode = %d %q, want %d and a message with %q", e.Status, e.Msg, tc.status, tc.says)
			}
		})
	}
}
