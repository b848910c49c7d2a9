package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"aead.dev/minisign"
	"filippo.io/age"

	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/schemas/release"
)

// tool returns Debian's minisign or age, which make test installs and
// names in MIDATA_TEST_MINISIGN / MIDATA_TEST_AGE.
func tool(t *testing.T, env, name string) string {
	t.Helper()
	if bin := os.Getenv(env); bin != "" {
		return bin
	}
	if os.Getenv("MIDATA_TEST_REQUIRE_BENCH") == "1" {
		t.Fatalf("%s is not set: make test installs %s and sets it", env, name)
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s command: make test installs Debian's %s", name, name)
	}
	return bin
}

// fixture is a release of two files with a manifest whose hashes, sizes and
// rows the test computes itself.
type fixture struct {
	keys  *signing.Keys
	pub   string // the public key file
	files map[string][]byte
	b     Bundle
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	pub, err := signing.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := signing.Load(filepath.Join(dir, "signing.key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"transactions.ndjson": []byte("{\"transaction_id\":\"T1\"}\n{\"transaction_id\":\"T2\"}\n{\"transaction_id\":\"T3\"}\n"),
		"transactions.csv":    []byte("transaction_id,description\nT1,\"two\nlines\"\nT2,x\nT3,y\n"),
	}
	m := release.Manifest{ID: "r-test-1", Version: release.ManifestVersion}
	rows := map[string]int64{"transactions.ndjson": 3, "transactions.csv": 3}
	var list []File
	for _, name := range []string{"transactions.ndjson", "transactions.csv"} {
		body := files[name]
		sum := sha256.Sum256(body)
		m.Resources = append(m.Resources, release.Resource{Name: name, Path: name, Format: strings.TrimPrefix(filepath.Ext(name), "."),
			Bytes: int64(len(body)), Hash: "sha256:" + hex.EncodeToString(sum[:]), Rows: rows[name]})
		list = append(list, File{Path: name, Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }})
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	receipt := []byte(`{"consent_id":"K-1","recipient":"partner:pds-1","categories":["transactions"]}` + "\n")
	return fixture{keys: keys, pub: pub, files: files, b: Bundle{ReleaseID: m.ID, Manifest: append(mb, '\n'), Receipt: receipt, Files: list}}
}

func (f fixture) pubs(t *testing.T) []minisign.PublicKey {
	pubs, err := signing.ParsePublicKeys(f.keys.WellKnown())
	if err != nil {
		t.Fatal(err)
	}
	return pubs
}

func TestABundleChecksWithVerifyAndWithTheStandardTools(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := Write(&buf, f.b, f.keys); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(bytes.NewReader(buf.Bytes()), f.pubs(t))
	if err != nil || !rep.OK() || rep.Encrypted || rep.ReleaseID != "r-test-1" || len(rep.Checks) != 4 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	// tar, minisign and sha256sum, as a partner would.
	dir := t.TempDir()
	path := filepath.Join(dir, "b.tar.gz")
	os.WriteFile(path, buf.Bytes(), 0o644)
	if out, err := exec.Command("tar", "-xzf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	rel := filepath.Join(dir, "r-test-1")
	for _, name := range []string{ManifestName, ReceiptName} {
		if out, err := exec.Command(tool(t, "MIDATA_TEST_MINISIGN", "minisign"), "-V", "-p", f.pub, "-m", filepath.Join(rel, name)).CombinedOutput(); err != nil {
			t.Errorf("minisign -V %s: %v %s", name, err, out)
		}
	}
	for name, body := range f.files {
		got, _ := os.ReadFile(filepath.Join(rel, name))
		if !bytes.Equal(got, body) {
			t.Errorf("%s extracted differs", name)
		}
	}
	if readme, _ := os.ReadFile(filepath.Join(rel, ReadmeName)); !strings.Contains(string(readme), f.keys.ID()) {
		t.Errorf("README.txt does not name the key: %s", readme)
	}
}

func TestAnEncryptedBundleOpensOnlyWithItsIdentity(t *testing.T) {
	f := newFixture(t)
	id, _ := age.GenerateX25519Identity()
	var buf bytes.Buffer
	if err := Write(&buf, f.b, f.keys, id.Recipient()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), f.files["transactions.ndjson"][:20]) || !bytes.HasPrefix(buf.Bytes(), []byte("age-encryption.org/v1")) {
		t.Fatal("the encrypted bundle is not age's format or holds the data in clear")
	}
	if _, err := Verify(bytes.NewReader(buf.Bytes()), f.pubs(t)); !errors.Is(err, ErrEncrypted) {
		t.Errorf("without an identity: %v, want ErrEncrypted", err)
	}
	other, _ := age.GenerateX25519Identity()
	if _, err := Verify(bytes.NewReader(buf.Bytes()), f.pubs(t), other); err == nil {
		t.Error("another identity opened the bundle")
	}
	if rep, err := Verify(bytes.NewReader(buf.Bytes()), f.pubs(t), id); err != nil || !rep.OK() || !rep.Encrypted {
		t.Errorf("with its identity: %+v, %v", rep, err)
	}
	// Debian's age decrypts it to the same tar.gz Verify accepts.
	dir := t.TempDir()
	keyFile, enc := filepath.Join(dir, "id.txt"), filepath.Join(dir, "b.tar.gz.age")
	os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600)
	os.WriteFile(enc, buf.Bytes(), 0o644)
	plain, err := exec.Command(tool(t, "MIDATA_TEST_AGE", "age"), "-d", "-i", keyFile, enc).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if rep, err := Verify(bytes.NewReader(plain), f.pubs(t)); err != nil || !rep.OK() {
		t.Errorf("what age -d gives: %+v, %v", rep, err)
	}
}

// member is one file of a hand-made tar.gz.
type member struct {
	name string
	body []byte
}

// pack writes members under r-test-1/ as tar.gz, as an attacker might.
func pack(t *testing.T, members []member) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		tw.WriteHeader(&tar.Header{Name: "r-test-1/" + m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg})
		tw.Write(m.body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestATamperedByteInEachPartIsCaught(t *testing.T) {
	f := newFixture(t)
	good := func() map[string][]byte {
		m := map[string][]byte{ManifestName: f.b.Manifest, ManifestName + SignatureExt: f.keys.Sign(f.b.Manifest, "release "+f.b.ReleaseID+" "+ManifestName),
			ReceiptName: f.b.Receipt, ReceiptName + SignatureExt: f.keys.Sign(f.b.Receipt, "release "+f.b.ReleaseID+" "+ReceiptName), ReadmeName: []byte("readme\n")}
		for k, v := range f.files {
			m[k] = append([]byte{}, v...)
		}
		return m
	}
	order := []string{ReadmeName, ManifestName, ManifestName + SignatureExt, ReceiptName, ReceiptName + SignatureExt, "transactions.ndjson", "transactions.csv"}
	build := func(m map[string][]byte) []byte {
		var ms []member
		for _, name := range order {
			if b, ok := m[name]; ok {
				ms = append(ms, member{name, b})
			}
		}
		return pack(t, ms)
	}
	if rep, err := Verify(bytes.NewReader(build(good())), f.pubs(t)); err != nil || !rep.OK() {
		t.Fatalf("the hand-packed good bundle: %+v, %v", rep, err)
	}
	for _, name := range order[1:] {
		m := good()
		b := m[name]
		b[len(b)/2] ^= 0x01
		rep, err := Verify(bytes.NewReader(build(m)), f.pubs(t))
		if err == nil && rep.OK() {
			t.Errorf("a byte changed in %s passed: %+v", name, rep)
		}
	}
	// A file left out, one added, and an ndjson row dropped with the
	// manifest's hash updated but not its rows (a signature mismatch too).
	m := good()
	delete(m, "transactions.csv")
	if rep, _ := Verify(bytes.NewReader(build(m)), f.pubs(t)); rep.OK() || !strings.Contains(fmt.Sprint(rep.Problems), "transactions.csv: missing") {
		t.Errorf("a missing file: %+v", rep.Problems)
	}
	m = good()
	m["extra.txt"] = []byte("x")
	order = append(order, "extra.txt")
	if rep, _ := Verify(bytes.NewReader(build(m)), f.pubs(t)); rep.OK() || !strings.Contains(fmt.Sprint(rep.Problems), "extra.txt: not in the manifest") {
		t.Errorf("an extra file: %+v", rep.Problems)
	}
	// A signed manifest whose ndjson row count is not the file's.
	m = good()
	m[ManifestName] = bytes.Replace(f.b.Manifest, []byte(`"rows": 3`), []byte(`"rows": 4`), 1)
	m[ManifestName+SignatureExt] = f.keys.Sign(m[ManifestName], "release "+f.b.ReleaseID+" "+ManifestName)
	if rep, _ := Verify(bytes.NewReader(build(m)), f.pubs(t)); rep.OK() || !strings.Contains(fmt.Sprint(rep.Problems), "transactions.ndjson: 3 rows, the manifest says 4") {
		t.Errorf("a wrong row count: %+v", rep.Problems)
	}
	// Another organisation's key.
	other := newFixture(t)
	if rep, _ := Verify(bytes.NewReader(build(good())), other.pubs(t)); rep.OK() {
		t.Error("a bundle checked against another organisation's key passed")
	}
}

func TestWriteRefusesAnUnsignedBundleAndABadReleaseID(t *testing.T) {
	f := newFixture(t)
	if err := Write(io.Discard, f.b, nil); err == nil || !strings.Contains(err.Error(), "unsigned") {
		t.Errorf("no key: %v", err)
	}
	for _, id := range []string{"", "../r", "a/b", ".hidden"} {
		b := f.b
		b.ReleaseID = id
		if err := Write(io.Discard, b, f.keys); err == nil {
			t.Errorf("release id %q accepted", id)
		}
	}
}
