package testbench

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
)

// maxNameLen is the longest S3 bucket name; Kafka allows 249 characters.
const maxNameLen = 63

// UniqueName returns a fresh name for a topic, bucket or consumer group of
// the calling test: prefix, the test's name and 8 random hex digits, joined
// by dashes. The result is valid both as a Kafka topic and as an S3 bucket:
// lowercase letters, digits and dashes only, starting and ending with a
// letter or digit, at most 63 characters. Prefix and test name are shortened
// to fit; the random suffix is always kept, so two calls never collide in
// practice, even across test binaries sharing one bench.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var raw [4]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatalf("unique name: read random bytes: %v", err)
	}
	suffix := hex.EncodeToString(raw[:])

	head := nameSafe(prefix)
	if head == "" {
		head = "t"
	}
	// S3 reserves a few prefixes for its own names.
	for _, reserved := range []string{"xn--", "sthree", "amzn-s3-demo-"} {
		if strings.HasPrefix(head, reserved) {
			head = "t-" + head
		}
	}
	budget := maxNameLen - len(suffix) - 1
	if len(head) > 20 {
		head = strings.TrimRight(head[:20], "-")
	}
	name := head
	if rest := budget - len(head) - 1; rest > 0 {
		if test := nameSafe(t.Name()); test != "" {
			if len(test) > rest {
				test = strings.TrimRight(test[:rest], "-")
			}
			name += "-" + test
		}
	}
	return name + "-" + suffix
}

// nameSafe lowercases s, turns every run of characters other than a-z and
// 0-9 into one dash, and trims dashes at both ends.
func nameSafe(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}
