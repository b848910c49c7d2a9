package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/signing"
)

func TestKeysGeneratesAPairAndPrintsThePublicKeysForRotation(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	for _, dir := range []string{oldDir, newDir} {
		var out, errOut bytes.Buffer
		if code := run(t.Context(), []string{"keys", "generate", "--dir", dir}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "signing.pub") {
			t.Fatalf("keys generate: exit %d %q", code, errOut.String())
		}
	}
	var again bytes.Buffer
	if code := run(t.Context(), []string{"keys", "generate", "--dir", newDir}, &again, &again); code == 0 {
		t.Error("keys generate overwrote a key pair")
	}
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"keys", "--signing-key-file", filepath.Join(newDir, "signing.key"),
		"--signing-old-public-key-files", filepath.Join(oldDir, "signing.pub")}, &out, &errOut)
	if code != 0 {
		t.Fatalf("keys: exit %d %s", code, errOut.String())
	}
	pubs, err := signing.ParsePublicKeys(out.Bytes())
	if err != nil || len(pubs) != 2 || !strings.Contains(out.String(), "(current)") || !strings.Contains(out.String(), "(previous)") {
		t.Fatalf("keys printed %q (%v), want the current and the previous key", out.String(), err)
	}
	// What the old key signed checks against what keys printed.
	old, err := signing.Load(filepath.Join(oldDir, "signing.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := signing.Verify(pubs, []byte("m"), old.Sign([]byte("m"), "t")); err != nil {
		t.Errorf("a signature of the rotated-out key: %v", err)
	}
	errOut.Reset()
	if code := run(t.Context(), []string{"keys"}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "signing.key_file") {
		t.Errorf("keys without a key file: exit %d %q", code, errOut.String())
	}
}
