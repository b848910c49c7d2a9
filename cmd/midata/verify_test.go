package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/midata/midata/pipeline/bundle"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/schemas/release"
)

func TestVerifyGivesAVerdictAndExitsNonZeroOnAnyMismatch(t *testing.T) {
	dir := t.TempDir()
	pubFile, err := signing.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := signing.Load(filepath.Join(dir, "signing.key"), nil)
	data := []byte("{\"transaction_id\":\"T1\"}\n{\"transaction_id\":\"T2\"}\n")
	sum := sha256.Sum256(data)
	m := release.Manifest{ID: "r-cli-1", Resources: []release.Resource{{Name: "ndjson", Path: "transactions.ndjson", Format: "ndjson",
		Bytes: int64(len(data)), Hash: "sha256:" + hex.EncodeToString(sum[:]), Rows: 2}}}
	mb, _ := json.Marshal(m)
	b := bundle.Bundle{ReleaseID: m.ID, Manifest: mb, Receipt: []byte(`{"consent_id":"K-1"}`),
		Files: []bundle.File{{Path: "transactions.ndjson", Size: int64(len(data)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}}}
	id, _ := age.GenerateX25519Identity()
	write := func(name string, recipients ...age.Recipient) string {
		var buf bytes.Buffer
		if err := bundle.Write(&buf, b, keys, recipients...); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	plain, enc := write("b.tar.gz"), write("b.tar.gz.age", id.Recipient())
	idFile := filepath.Join(dir, "id.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	keyLine := strings.Split(strings.TrimSpace(string(keys.WellKnown())), "\n")[1]

	verify := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(t.Context(), append([]string{"verify"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	for _, args := range [][]string{{plain, "--pubkey", pubFile}, {plain, "--pubkey", keyLine}, {enc, "--pubkey", pubFile, "--identity", idFile}} {
		if code, out := verify(args...); code != 0 || !strings.Contains(out, "release r-cli-1: verified, signed by key "+keys.ID()) {
			t.Errorf("verify %v: exit %d\n%s", args, code, out)
		}
	}
	if code, out := verify(enc, "--pubkey", pubFile); code != 1 || !strings.Contains(out, "--identity") {
		t.Errorf("an encrypted bundle without --identity: exit %d %s", code, out)
	}
	other := t.TempDir()
	otherPub, _ := signing.Generate(other)
	if code, out := verify(plain, "--pubkey", otherPub); code != 1 || !strings.Contains(out, "NOT VERIFIED") || !strings.Contains(out, "FAIL") {
		t.Errorf("another organisation's key: exit %d %s", code, out)
	}
	raw, _ := os.ReadFile(plain)
	raw[len(raw)/2] ^= 0xff
	tampered := filepath.Join(dir, "t.tar.gz")
	os.WriteFile(tampered, raw, 0o644)
	if code, out := verify(tampered, "--pubkey", pubFile); code != 1 {
		t.Errorf("a tampered archive: exit %d %s", code, out)
	}
	if code, _ := verify(plain); code != exitUsage {
		t.Errorf("no --pubkey: exit %d, want 2", code)
	}
}
