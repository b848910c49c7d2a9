package release

// The CSV cell writer shared by the CSV formats (midata-csv and csv).
// Cells are appended to a byte slice, so a whole row is built without
// allocating and written once.
//
// Two kinds of cell:
//
//   - text cells (descriptions, type codes, ids: anything that came from
//     outside) are neutralised against spreadsheet formula injection: a cell
//     that begins with '=', '+', '-', '@', tab or carriage return gets a
//     leading apostrophe (OWASP's "CSV injection" advice);
//   - plain cells (values the format writes itself, such as the signed
//     amounts "-£12.34") are never neutralised: they legitimately begin
//     with a sign.
//
// Both are quoted per RFC 4180 when they contain a comma, a double quote, a
// carriage return or a line feed: the cell is wrapped in double quotes and
// each double quote inside is doubled.

// appendTextCell appends s as one neutralised, RFC 4180-quoted text cell.
func appendTextCell(dst []byte, s string) []byte {
	if needsNeutralising(s) {
		return appendQuoted(dst, "'", s)
	}
	return appendQuoted(dst, "", s)
}

// appendPlainCell appends s as one RFC 4180-quoted cell, never neutralised.
func appendPlainCell[T ~string | ~[]byte](dst []byte, s T) []byte {
	return appendQuoted(dst, "", s)
}

// needsNeutralising reports whether a spreadsheet could read s as a formula.
func needsNeutralising(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// appendQuoted appends prefix+s, quoted when s needs it. The prefix is part
// of the cell (the neutralising apostrophe) and never needs quoting itself.
func appendQuoted[T ~string | ~[]byte](dst []byte, prefix string, s T) []byte {
	if !needsQuotes(s) {
		dst = append(dst, prefix...)
		return append(dst, s...)
	}
	dst = append(dst, '"')
	dst = append(dst, prefix...)
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}

// needsQuotes reports whether s must be quoted under RFC 4180.
func needsQuotes[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',', '"', '\r', '\n':
			return true
		}
	}
	return false
}
