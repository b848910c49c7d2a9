package testbench

import (
	"regexp"
	"strings"
	"testing"
)

// validName matches names that are both valid S3 bucket names (3-63
// characters, lowercase letters, digits and dashes, letter or digit at both
// ends) and valid Kafka topic names.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)

func TestUniqueName(t *testing.T) {
	tests := []struct {
		name       string
		prefix     string
		wantPrefix string
	}{
		{name: "a plain prefix starts the name", prefix: "tx", wantPrefix: "tx-"},
		{name: "an empty prefix becomes t", prefix: "", wantPrefix: "t-"},
		{name: "uppercase and punctuation are folded to lowercase and dashes", prefix: "Release/CSV_files..v2", wantPrefix: "release-csv-files-v2-"},
		{name: "a long prefix is cut to 20 characters", prefix: strings.Repeat("abc", 40), wantPrefix: strings.Repeat("abc", 40)[:20] + "-"},
		{name: "a prefix S3 reserves is moved behind t", prefix: "sthree-x", wantPrefix: "t-sthree-x-"},
		{name: "a prefix of only punctuation becomes t", prefix: "--//__", wantPrefix: "t-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := UniqueName(t, tt.prefix)
			if !validName.MatchString(got) || strings.Contains(got, "--") {
				t.Fatalf("UniqueName(%q) = %q, not a valid bucket and topic name", tt.prefix, got)
			}
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Fatalf("UniqueName(%q) = %q, want prefix %q", tt.prefix, got, tt.wantPrefix)
			}
			if !regexp.MustCompile(`-[0-9a-f]{8}$`).MatchString(got) {
				t.Fatalf("UniqueName(%q) = %q, want an 8 hex digit random suffix", tt.prefix, got)
			}
		})
	}
}

func TestUniqueNameCarriesTheTestNameAndFitsIn63Characters(t *testing.T) {
	t.Parallel()
	t.Run("Sub test With A Very Long Name That Goes On And On Past Any Limit", func(t *testing.T) {
		got := UniqueName(t, "bucket")
		if len(got) > 63 || !validName.MatchString(got) {
			t.Fatalf("UniqueName = %q (%d chars), want a valid name of at most 63", got, len(got))
		}
		if !strings.HasPrefix(got, "bucket-testuniquenamecarries") {
			t.Fatalf("UniqueName = %q, want the prefix followed by the test's name", got)
		}
	})
}

func TestUniqueNameNeverRepeats(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		n := UniqueName(t, "x")
		if seen[n] {
			t.Fatalf("UniqueName returned %q twice", n)
		}
		seen[n] = true
	}
}
