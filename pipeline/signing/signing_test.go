package signing

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// minisignCLI returns Debian's minisign, which make test installs
// (MIDATA_TEST_MINISIGN); the test fails under make test without it.
func minisignCLI(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("MIDATA_TEST_MINISIGN"); bin != "" {
		return bin
	}
	if os.Getenv("MIDATA_TEST_REQUIRE_BENCH") == "1" {
		t.Fatal("MIDATA_TEST_MINISIGN is not set: make test installs minisign and sets it")
	}
	bin, err := exec.LookPath("minisign")
	if err != nil {
		t.Skip("no minisign command: make test installs Debian's minisign")
	}
	return bin
}

func TestASignatureChecksWithMinisignAndWithVerify(t *testing.T) {
	{
		dir := t.TempDir()
		pubPath, err := Generate(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, "signing.key")); fi.Mode().Perm() != 0o600 {
			t.Errorf("secret key mode %v, want 0600", fi.Mode().Perm())
		}
		if _, err := Generate(dir); err == nil {
			t.Error("Generate overwrote a key")
		}
		k, err := Load(filepath.Join(dir, "signing.key"), nil)
		if err != nil {
			t.Fatal(err)
		}
		manifest := []byte(`{"release_id":"r-1","files":[]}` + "\n")
		sig := k.Sign(manifest, "release r-1 manifest.json")
		file := filepath.Join(dir, "manifest.json")
		os.WriteFile(file, manifest, 0o644)
		os.WriteFile(file+".minisig", sig, 0o644)

		// The standard tool agrees, with the public key file and with the
		// one line of the well-known document.
		out, err := exec.Command(minisignCLI(t), "-V", "-p", pubPath, "-m", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "release r-1 manifest.json") {
			t.Fatalf("minisign -V: %v\n%s", err, out)
		}
		line := strings.Split(strings.TrimSpace(string(k.WellKnown())), "\n")[1]
		if out, err := exec.Command(minisignCLI(t), "-V", "-P", line, "-m", file).CombinedOutput(); err != nil {
			t.Fatalf("minisign -V -P <well-known key>: %v\n%s", err, out)
		}
		pubs, err := ParsePublicKeys(k.WellKnown())
		if err != nil {
			t.Fatal(err)
		}
		if id, trusted, err := Verify(pubs, manifest, sig); err != nil || id != k.ID() || trusted != "release r-1 manifest.json" {
			t.Errorf("Verify = %s %q %v", id, trusted, err)
		}
		// One byte changed, and both refuse.
		tampered := append([]byte{}, manifest...)
		tampered[3] ^= 1
		os.WriteFile(file, tampered, 0o644)
		if out, err := exec.Command(minisignCLI(t), "-V", "-p", pubPath, "-m", file).CombinedOutput(); err == nil {
			t.Errorf("minisign accepted a tampered file: %s", out)
		}
		if _, _, err := Verify(pubs, tampered, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("Verify of a tampered file: %v", err)
		}
	}
}

func TestRotatedKeysStayVerifiableAndLoadRefusesWhatIsWrong(t *testing.T) {
	oldDir, newDir := t.TempDir(), t.TempDir()
	oldPub, _ := Generate(oldDir)
	Generate(newDir)
	old, err := Load(filepath.Join(oldDir, "signing.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a manifest signed before the rotation")
	oldSig := old.Sign(msg, "old")
	cur, err := Load(filepath.Join(newDir, "signing.key"), []string{oldPub})
	if err != nil {
		t.Fatal(err)
	}
	if len(cur.Public()) != 2 || !strings.Contains(string(cur.WellKnown()), old.ID()) || !strings.Contains(string(cur.WellKnown()), "(previous)") {
		t.Errorf("well-known after rotation:\n%s", cur.WellKnown())
	}
	if id, _, err := Verify(cur.Public(), msg, oldSig); err != nil || id != old.ID() {
		t.Errorf("an old signature after rotation: %s %v", id, err)
	}
	if _, _, err := Verify(cur.Public()[:1], msg, oldSig); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), old.ID()) {
		t.Errorf("an old signature without the old key: %v, want it to name the key", err)
	}

	// An encrypted key (as `minisign -G` writes by default) is refused
	// with what to do; its header says so without opening it.
	enc := filepath.Join(t.TempDir(), "enc.key")
	os.WriteFile(enc, []byte("untrusted comment: minisign encrypted secret key\nRWRTY0IyAAAA\n"), 0o600)
	if _, err := Load(enc, nil); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("an encrypted key: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte("not a key"), 0o600)
	if _, err := Load(junk, nil); err == nil {
		t.Error("junk loaded as a key")
	}
	if _, err := Load(filepath.Join(newDir, "signing.key"), []string{filepath.Join(newDir, "signing.pub")}); err == nil {
		t.Error("the current key listed as an old one was taken")
	}
	if _, err := ParsePublicKeys([]byte("untrusted comment: x\nnot-a-key\n")); err == nil {
		t.Error("junk parsed as a public key")
	}
}
