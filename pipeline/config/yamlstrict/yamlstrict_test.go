package yamlstrict_test

import (
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/config/yamlstrict"
)

type inner struct {
	Bucket string `yaml:"bucket"`
	Parts  int    `yaml:"parts"`
}

type doc struct {
	S3     inner             `yaml:"s3"`
	Tokens map[string]string `yaml:"tokens"`
	Tags   []string          `yaml:"tags"`
	On     bool              `yaml:"on"`
}

func TestDecodeKeepsWhatIsAbsentAndReadsWhatIsThere(t *testing.T) {
	got := doc{S3: inner{Bucket: "default", Parts: 4}}
	if err := yamlstrict.Decode([]byte("s3:\n  parts: 8\ntags: [a, b]\non:\n"), &got, ""); err != nil {
		t.Fatalf("Decode = %v", err)
	}
	if got.S3.Bucket != "default" || got.S3.Parts != 8 || len(got.Tags) != 2 || got.On {
		t.Errorf("Decode gave %+v", got)
	}
}

func TestDecodeNamesEveryProblemWithItsLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
		notWant    string
	}{
		{"an unknown key", "s3:\n  bukcet: x\n", []string{"line 2: unknown key s3.bukcet (known in s3: bucket, parts)"}, ""},
		{"an unknown top-level key", "s4: {}\n", []string{"line 1: unknown key s4 (known at the top level: s3, tokens, tags, on)"}, ""},
		{"two problems at once", "s3:\n  parts: many\non: maybe\n", []string{"line 2: s3.parts: want an integer, got \"many\"", "line 3: on: want true or false, got \"maybe\""}, ""},
		{"a list where a mapping goes", "s3: [1]\n", []string{"line 1: s3: want a mapping of keys, got a list"}, ""},
		{"a wrong value in a map of secrets", "tokens:\n  secret-token-123: [x]\n", []string{"line 2: tokens: want a string, got a list"}, "secret-token-123"},
		{"two documents", "on: true\n---\non: false\n", []string{"more than one YAML document"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got doc
			err := yamlstrict.Decode([]byte(tc.yaml), &got, "")
			if err == nil {
				t.Fatal("Decode accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Decode = %q, want it to say %q", err, w)
				}
			}
			if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
				t.Errorf("Decode = %q shows %q", err, tc.notWant)
			}
		})
	}
}
