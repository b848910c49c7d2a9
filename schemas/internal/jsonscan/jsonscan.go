// Package jsonscan is the scanner under the schemas package's fast
// decoding path: it walks the flat JSON of the input events without
// allocating, and answers "done" or "not sure" (the caller then decodes
// with encoding/json). Strings with escapes, non-ASCII keys, deep nesting
// and anything unusual are "not sure"; see schemas/fastjson.go.
package jsonscan

// MaxSkipDepth bounds the nesting of the values Skip skips.
const MaxSkipDepth = 32

// Scanner walks one JSON value: B the bytes, I the position.
type Scanner struct {
	B []byte
	I int
}

// WS skips JSON white space.
func (s *Scanner) WS() {
	for s.I < len(s.B) {
		switch s.B[s.I] {
		case ' ', '\t', '\n', '\r':
			s.I++
		default:
			return
		}
	}
}

// Consume skips white space and then c.
func (s *Scanner) Consume(c byte) bool {
	s.WS()
	if s.I < len(s.B) && s.B[s.I] == c {
		s.I++
		return true
	}
	return false
}

// Peek skips white space and returns the next byte (0 at the end).
func (s *Scanner) Peek() byte {
	s.WS()
	if s.I < len(s.B) {
		return s.B[s.I]
	}
	return 0
}

// PlainString scans a string without escapes at s.I and returns the bounds
// of its contents.
func (s *Scanner) PlainString() (lo, hi int, ok bool) {
	if s.I >= len(s.B) || s.B[s.I] != '"' {
		return 0, 0, false
	}
	lo = s.I + 1
	for j := lo; j < len(s.B); j++ {
		switch c := s.B[j]; {
		case c == '"':
			s.I = j + 1
			return lo, j, true
		case c == '\\' || c < 0x20:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// Key scans an object key and the colon after it. Keys with escapes or
// non-ASCII bytes are refused: encoding/json unescapes and folds them.
func (s *Scanner) Key() ([]byte, bool) {
	s.WS()
	lo, hi, ok := s.PlainString()
	if !ok {
		return nil, false
	}
	for _, c := range s.B[lo:hi] {
		if c >= 0x80 {
			return nil, false
		}
	}
	if !s.Consume(':') {
		return nil, false
	}
	return s.B[lo:hi], true
}

// Literal consumes the literal word.
func (s *Scanner) Literal(word string) bool {
	if len(s.B)-s.I < len(word) || string(s.B[s.I:s.I+len(word)]) != word {
		return false
	}
	s.I += len(word)
	return true
}

// Object scans an object, handing each key to field, which consumes the
// value and reports whether it could.
func (s *Scanner) Object(field func(key []byte) bool) bool {
	if !s.Consume('{') {
		return false
	}
	if s.Consume('}') {
		return true
	}
	for {
		k, ok := s.Key()
		if !ok || !field(k) {
			return false
		}
		if s.Consume(',') {
			continue
		}
		return s.Consume('}')
	}
}

// EqualFoldASCII reports whether the ASCII key equals name ignoring case.
func EqualFoldASCII(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		a, b := key[i], name[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// Skip validates and skips any JSON value.
func (s *Scanner) Skip(depth int) bool {
	if depth > MaxSkipDepth {
		return false
	}
	switch c := s.Peek(); {
	case c == '"':
		return s.SkipString()
	case c == '{':
		s.I++
		if s.Consume('}') {
			return true
		}
		for {
			s.WS()
			if !s.SkipString() || !s.Consume(':') || !s.Skip(depth+1) {
				return false
			}
			if s.Consume(',') {
				continue
			}
			return s.Consume('}')
		}
	case c == '[':
		s.I++
		if s.Consume(']') {
			return true
		}
		for {
			if !s.Skip(depth + 1) {
				return false
			}
			if s.Consume(',') {
				continue
			}
			return s.Consume(']')
		}
	case c == 't':
		return s.Literal("true")
	case c == 'f':
		return s.Literal("false")
	case c == 'n':
		return s.Literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.SkipNumber()
	}
	return false
}

// SkipString skips a string, escapes included, checking them.
func (s *Scanner) SkipString() bool {
	if s.I >= len(s.B) || s.B[s.I] != '"' {
		return false
	}
	for j := s.I + 1; j < len(s.B); j++ {
		switch c := s.B[j]; {
		case c == '"':
			s.I = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j >= len(s.B) {
				return false
			}
			switch s.B[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.B) {
					return false
				}
				for _, h := range s.B[j+1 : j+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

// SkipNumber skips a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) SkipNumber() bool {
	b, i := s.B, s.I
	digits := func() bool {
		start := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.I = i
	return true
}

// End checks that only white space follows the top-level value.
func (s *Scanner) End() bool {
	s.WS()
	return s.I == len(s.B)
}
