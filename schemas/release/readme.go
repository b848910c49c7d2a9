package release

import (
	"fmt"
	"strings"
	"time"
)

// ReadmeFile is the plain-text guide each release carries.
const ReadmeFile = "README.txt"

// Readme renders README.txt for a release from its manifest (before the
// readme itself is added to it): what the files are, the period, and how to
// check their hashes with standard tools. It holds nothing that changes from
// one run to the next (no creation time), so a re-run writes the same bytes.
func Readme(m *Manifest) []byte {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	last := m.Midata.Period.To.Add(-time.Nanosecond)
	w("midata release %s", m.ID)
	w("")
	w("These files hold the transactions of customer %s, released to %s", m.Midata.CustomerID, m.Midata.Recipient)
	w("under %s,", m.Midata.LegalBasis)
	w("for bookings from %s to %s inclusive (UTC),", m.Midata.Period.From.UTC().Format("2 January 2006"), last.UTC().Format("2 January 2006"))
	w("with the consent %s, which shares: %s.", strings.Join(m.Midata.ConsentIDs, ", "), strings.Join(m.Midata.Categories, ", "))
	w("")
	w("Files:")
	for _, r := range m.Resources {
		w("  %-26s %s, %d rows, %d bytes", r.Path, describe(r.MidataFormat), r.Rows, r.Bytes)
	}
	w("  %-26s this guide", ReadmeFile)
	w("  %-26s the manifest: a Frictionless Data Package listing every file,", ManifestFile)
	w("  %-26s its columns, bytes and SHA-256, the consent and the source", "")
	w("")
	w("Checking the files")
	w("")
	w("Each file's SHA-256 is below and in manifest.json. To check them, put the")
	w("files and this guide in one folder and run, on Linux:")
	w("    sha256sum --check --ignore-missing README.txt")
	w("on macOS:")
	w("    shasum -a 256 --check --ignore-missing README.txt")
	w("on Windows (PowerShell), compare with:")
	w("    Get-FileHash -Algorithm SHA256 <file>")
	w("(they warn about the lines of this guide that are not hashes: that is expected.)")
	w("")
	for _, r := range m.Resources {
		w("%s  %s", strings.TrimPrefix(r.Hash, "sha256:"), r.Path)
	}
	return []byte(b.String())
}

// describe says in words what a format's file is.
func describe(format string) string {
	switch format {
	case "midata-csv":
		return "the classic midata CSV (as UK banks shipped it), newest first"
	case "csv":
		return "CSV, one column per shared field, oldest first"
	case "ndjson":
		return "JSON lines, one transaction per line, oldest first"
	case "json":
		return "Open Banking-shaped JSON"
	case "parquet":
		return "Apache Parquet, typed columns"
	case "html":
		return "a one-page summary to read in a browser"
	}
	return format
}
