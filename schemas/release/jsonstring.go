package release

import "unicode/utf8"

// appendJSONString appends s as a JSON string, byte for byte what
// encoding/json writes with SetEscapeHTML(false):
//
//   - '"' and '\' are escaped with a backslash; \b, \f, \n, \r and \t use
//     their short escapes; other control characters below U+0020 are \u00XX;
//   - U+2028 and U+2029 are escaped (\u2028, \u2029) so a line is also valid
//     JavaScript and no line-splitting reader breaks on them;
//   - '<', '>' and '&' are NOT escaped: release files are data, not HTML;
//   - bytes that are not valid UTF-8 become \ufffd, as encoding/json does
//     (JSON cannot carry them). Input decoded from JSON is always valid
//     UTF-8, so released text is the input's exact text.
//
// It never allocates beyond growing dst.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
