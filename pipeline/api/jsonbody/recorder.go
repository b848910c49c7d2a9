package jsonbody

import "net/http"

// StatusRecorder is a ResponseWriter that remembers the status answered,
// for the API's request log.
type StatusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *StatusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Code is the status answered: 200 when none was written.
func (s *StatusRecorder) Code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Wrote says whether a status was answered yet.
func (s *StatusRecorder) Wrote() bool { return s.status != 0 }
