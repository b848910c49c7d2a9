// Package docs holds the project's documentation; its test checks that a
// reader with a clone and nothing else can follow every link.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// root is the repository's top folder, seen from this package.
const root = ".."

// markdownFiles returns every Markdown file of the repository, skipping
// hidden folders (.git) and data folders.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk the repository: %v", err)
	}
	if len(out) < 4 {
		t.Fatalf("found only %d Markdown files (%v): the walk is broken", len(out), out)
	}
	return out
}

var (
	linkPattern    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	headingPattern = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
	codeFence      = regexp.MustCompile("(?ms)^```.*?^```")
)

// anchor is GitHub's anchor of a heading: lower case, punctuation dropped,
// spaces as dashes.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	out := map[string]bool{}
	for _, m := range headingPattern.FindAllStringSubmatch(codeFence.ReplaceAllString(string(b), ""), -1) {
		out[anchor(strings.ReplaceAll(m[1], "`", ""))] = true
	}
	return out
}

func TestEveryLinkInTheDocsResolvesInsideTheRepository(t *testing.T) {
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, file := range markdownFiles(t) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := codeFence.ReplaceAllString(string(b), "")
		for _, m := range linkPattern.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			checked++
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
			}
			destAbs, err := filepath.Abs(dest)
			if err != nil || !strings.HasPrefix(destAbs, abs+string(filepath.Separator)) && destAbs != abs {
				t.Errorf("%s links %q, outside the repository", file, target)
				continue
			}
			if _, err := os.Stat(dest); err != nil {
				t.Errorf("%s links %q: %v", file, target, err)
				continue
			}
			if frag != "" && strings.HasSuffix(dest, ".md") && !anchors(t, dest)[frag] {
				t.Errorf("%s links %q: %s has no heading with anchor #%s", file, target, dest, frag)
			}
		}
	}
	if checked < 10 {
		t.Errorf("checked only %d relative links: the link pattern is broken", checked)
	}
}

// TestNothingPointsAtTheSteeringFolder keeps docs and code comments free of
// references to design notes that a clone does not have.
func TestNothingPointsAtTheSteeringFolder(t *testing.T) {
	bad := regexp.MustCompile(`\.\./shared/|shared/(DESIGN|FORMATS|CONVENTIONS)|\b(DESIGN|FORMATS|CONVENTIONS)\.md\b`)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "data" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".md") || strings.HasSuffix(path, "links_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if bad.MatchString(line) {
				t.Errorf("%s:%d points outside the repository: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAnchorFollowsGitHub(t *testing.T) {
	for heading, want := range map[string]string{
		"Configuration":               "configuration",
		"One release: midata export":  "one-release-midata-export",
		"Set-up: two commands":        "set-up-two-commands",
		"State without a database":    "state-without-a-database",
		"How a release is made":       "how-a-release-is-made",
		"Tests (real Kafka, real S3)": "tests-real-kafka-real-s3",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}
