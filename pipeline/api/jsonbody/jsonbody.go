// Package jsonbody reads the JSON bodies of HTTP requests strictly: one
// object, no field the target does not have, nothing after it, at most a
// given size, with errors that carry the HTTP status to answer and say what
// to send instead; and StatusRecorder, which remembers the status a handler
// answered. It does not route, authenticate or validate the values.
package jsonbody

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
)

// Error is a mistake in a request that knows the HTTP status to answer.
type Error struct {
	Status int    // the HTTP status, e.g. 400
	Msg    string // one line for the caller
}

func (e *Error) Error() string { return e.Msg }

// BadRequest returns an *Error with status 400.
func BadRequest(format string, args ...any) error {
	return &Error{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Decode reads the JSON object of r's body into dst: at most maxBytes, no
// field that dst does not have, nothing after the object. Its errors are
// *Error values with the status to answer and a message a person can act on.
func Decode(w http.ResponseWriter, r *http.Request, dst any, maxBytes int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &Error{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: send application/json", ct)}
		}
	}
	body := bufio.NewReader(http.MaxBytesReader(w, r.Body, maxBytes))
	// JSON null decodes into a struct as nothing, without an error: the
	// body would pass as {} (found by FuzzDecode).
	for {
		b, err := body.Peek(1)
		if err != nil || (b[0] != ' ' && b[0] != '\t' && b[0] != '\n' && b[0] != '\r') {
			break
		}
		body.ReadByte()
	}
	if b, _ := body.Peek(4); string(b) == "null" {
		return BadRequest("the body is JSON null: send a JSON object")
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, more := dec.Token(); more != io.EOF {
			return BadRequest("the body has more after its JSON object: send one object")
		}
		return nil
	}
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return BadRequest("the body is empty: send a JSON object")
	case errors.As(err, &maxErr):
		return &Error{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes: send less", maxErr.Limit)}
	case errors.As(err, &syntaxErr):
		return BadRequest("the body is not JSON (at byte %d: %v): send a JSON object", syntaxErr.Offset, syntaxErr)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return BadRequest("the body is a JSON %s: send a JSON object", typeErr.Value)
		}
		return BadRequest("field %q is a JSON %s: want %s", field, typeErr.Value, jsonKind(typeErr.Type))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the body ends inside its JSON object: send the whole object")
	}
	if name, ok := unknownField(err); ok {
		return BadRequest("unknown field %q: remove it (known: %s)", name, strings.Join(jsonFields(dst), ", "))
	}
	return BadRequest("read the body: %v", err)
}

// unknownField returns the field named by the error DisallowUnknownFields
// causes.
func unknownField(err error) (string, bool) {
	msg := err.Error()
	i := strings.Index(msg, "unknown field ")
	if i < 0 {
		return "", false
	}
	name := msg[i+len("unknown field "):]
	if s, err := strconv.Unquote(name); err == nil {
		name = s
	}
	return name, true
}

// jsonFields lists the JSON names of the fields of the struct dst points to.
func jsonFields(dst any) []string {
	t := reflect.TypeOf(dst)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	}
	return t.String()
}
