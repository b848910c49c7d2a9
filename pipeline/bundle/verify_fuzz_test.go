package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"
	"filippo.io/age"

	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/schemas/release"
)

// fuzzIdentity is an age identity made for this test only: the bundles
// the fuzz target encrypts, in its seed corpus too, open with it.
const fuzzIdentity = "AGE-SECRET-KEY-1REJTF6Y9X7EGN5MDU2FJWYHNK9QZZCP763PPFKS9E89E56L8SV3SJDDL2R"

// fuzzKeys returns a minisign signing key drawn from a fixed seed, so that
// the bundles Write makes with it are the same bytes at every run (Ed25519
// signs deterministically) and the seed corpus holds valid bundles.
func fuzzKeys(tb testing.TB) *signing.Keys {
	tb.Helper()
	_, priv, err := minisign.GenerateKey(bytes.NewReader(bytes.Repeat([]byte("midata bundle fuzz key seed 0123"), 2)))
	if err != nil {
		tb.Fatal(err)
	}
	text, err := priv.MarshalText()
	if err != nil {
		tb.Fatal(err)
	}
	file := filepath.Join(tb.TempDir(), "signing.key")
	if err := os.WriteFile(file, text, 0o600); err != nil {
		tb.Fatal(err)
	}
	keys, err := signing.Load(file, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

// fuzzBundle is a bundle Write made, and what it holds.
type fuzzBundle struct {
	raw     []byte
	members []tarMember
}

// fuzzBundles writes the valid bundles the target starts from: two
// releases, one of them also encrypted to fuzzIdentity.
func fuzzBundles(tb testing.TB, keys *signing.Keys) []fuzzBundle {
	tb.Helper()
	id, err := age.ParseX25519Identity(fuzzIdentity)
	if err != nil {
		tb.Fatal(err)
	}
	type file struct {
		name, format string
		rows         int64
		body         string
	}
	make1 := func(releaseID string, files []file, recipients ...age.Recipient) fuzzBundle {
		m := release.Manifest{ID: releaseID, Version: release.ManifestVersion, Created: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)}
		var list []File
		for _, f := range files {
			sum := sha256.Sum256([]byte(f.body))
			m.Resources = append(m.Resources, release.Resource{Name: f.format, Path: f.name, Format: f.format,
				Bytes: int64(len(f.body)), Hash: "sha256:" + hex.EncodeToString(sum[:]), Rows: f.rows})
			body := f.body
			list = append(list, File{Path: f.name, Size: int64(len(body)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }})
		}
		m.Resources = append(m.Resources, release.Resource{Name: "readme", Path: ReadmeName, Format: "txt"})
		mb, _ := json.MarshalIndent(m, "", "  ")
		receipt := fmt.Sprintf(`{"version":"1","receipt_id":"%s/K-1","subject":"C1","consent_id":"K-1","recipient":"partner:pds-one","categories":["transactions"]}`+"\n", releaseID)
		var buf bytes.Buffer
		b := Bundle{ReleaseID: releaseID, Manifest: append(mb, '\n'), Receipt: []byte(receipt), Files: list, Created: m.Created}
		if err := Write(&buf, b, keys, recipients...); err != nil {
			tb.Fatal(err)
		}
		members, _, err := readMembers(buf.Bytes(), id)
		if err != nil {
			tb.Fatal(err)
		}
		return fuzzBundle{raw: buf.Bytes(), members: members}
	}
	one := []file{
		{"transactions.ndjson", "ndjson", 3, "{\"transaction_id\":\"T1\"}\n{\"transaction_id\":\"T2\"}\n{\"transaction_id\":\"T3\"}\n"},
		{"transactions.csv", "csv", 3, "transaction_id,description\r\nT1,\"two\r\nlines\"\r\nT2,x\r\nT3,y\r\n"},
	}
	two := []file{
		{"transactions.ndjson", "ndjson", 0, ""},
		{"transactions.json", "json", 0, `{"Data":{"Transaction":[]}}`},
	}
	return []fuzzBundle{make1("r-fuzz-1", one), make1("r-fuzz-2", two), make1("r-fuzz-1", one, id.Recipient())}
}

// FuzzVerify holds Verify (what `midata verify` runs) to its promise on
// any bytes, and on the valid bundles with bytes flipped (three bytes of
// flips each: a little-endian offset and a mask; one more byte cuts the
// bundle short):
//
//   - no panic, and bounded memory: at most a fixed amount plus a small
//     multiple of the input (what a crafted size or a gzip bomb would
//     break), and a member of the manifest's kind declared or found over
//     maxMetaBytes is refused with an error;
//   - a valid bundle checks;
//   - OK only for a bundle whose members are the same as a valid bundle's
//     of the same release (same names in the same order, same bytes),
//     allowing what no signature covers: README.txt and the untrusted
//     comment lines of the signatures (and so gzip and tar bytes that
//     change no member: headers' times, trailers, padding, data after the
//     end), with the right key id and encryption flag.
//
// The seed corpus (testdata/fuzz/FuzzVerify) holds bundles made here,
// which stay valid: the key and the times are fixed. Two of its seeds fail
// until Verify binds each signature to its member and release:
// receipt-of-another-release (release r-fuzz-1 with the consent receipt,
// and its signature, of release r-fuzz-2) and manifest-as-receipt (the
// manifest and its signature in the receipt's place) both check OK, since
// Verify takes any signature of a key among pubs and looks neither at its
// trusted comment ("release <id> consent-receipt.json") nor at the
// receipt's receipt_id.
func FuzzVerify(f *testing.F) {
	keys := fuzzKeys(f)
	pubs := keys.Public()
	id, err := age.ParseX25519Identity(fuzzIdentity)
	if err != nil {
		f.Fatal(err)
	}
	valid := fuzzBundles(f, keys)
	for i, v := range valid {
		if rep, err := Verify(bytes.NewReader(v.raw), pubs, id); err != nil || !rep.OK() {
			f.Fatalf("valid bundle %d: %+v, %v", i, rep, err)
		}
		f.Add([]byte(nil), uint8(i), []byte(nil))
		f.Add([]byte(nil), uint8(i), []byte{byte(len(v.raw) / 2), 0, 0x01})
	}
	// Oversized members: refused with an error, in bounded memory. (The
	// bomb is checked here once rather than fuzzed: 4 MiB to inflate at
	// every step would stall the fuzzer.)
	for _, o := range []struct {
		name string
		size int64
	}{{ManifestName, 8 << 30}, {ReceiptName + SignatureExt, 1 << 62}, {ReceiptName, maxMetaBytes + 1}} {
		in := oversizedMeta(f, o.name, o.size)
		before := heapAllocated()
		if _, err := Verify(bytes.NewReader(in), pubs, id); err == nil {
			f.Fatalf("a %s of %d bytes: no error", o.name, o.size)
		}
		if n := heapAllocated() - before; n > 64<<20 {
			f.Fatalf("a %s of %d bytes: Verify allocated %d MiB", o.name, o.size, n>>20)
		}
		if o.size > maxMetaBytes+1 {
			f.Add(in, uint8(0), []byte(nil))
		}
	}
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\n--- AAAA\n"), uint8(2), []byte(nil))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), uint8(1), []byte{0, 0, 0x80, 5, 0, 0xff, 0x20})

	f.Fuzz(func(t *testing.T, data []byte, base uint8, flips []byte) {
		check := func(what string, in []byte) {
			before := heapAllocated()
			rep, err := Verify(bytes.NewReader(in), pubs, id)
			if n := heapAllocated() - before; n > 64<<20+4096*uint64(len(in)) {
				t.Fatalf("%s: Verify of %d bytes allocated %d MiB", what, len(in), n>>20)
			}
			if err != nil {
				return
			}
			members, encrypted, rerr := readMembers(in, id)
			if name := oversizedMember(members); name != "" {
				t.Fatalf("%s: Verify read %s, over %d bytes, without an error", what, name, maxMetaBytes)
			}
			if !rep.OK() {
				return
			}
			if rerr != nil {
				t.Fatalf("%s: Verify says OK (%+v) but the bundle does not read: %v", what, rep, rerr)
			}
			if rep.KeyID != keys.ID() || rep.Encrypted != encrypted {
				t.Fatalf("%s: OK with key %s (want %s), encrypted %v (want %v)", what, rep.KeyID, keys.ID(), rep.Encrypted, encrypted)
			}
			problems := []string{"no valid bundle of release " + rep.ReleaseID}
			for _, v := range valid {
				if path.Dir(v.members[0].name) != rep.ReleaseID {
					continue
				}
				p := sameMembers(members, v.members)
				if p == "" {
					return
				}
				problems = append(problems[:0], p)
			}
			t.Fatalf("%s: Verify says OK (%q) for a bundle of %s unlike the valid one: %s", what, rep.Checks, rep.ReleaseID, strings.Join(problems, "; "))
		}
		if len(data) > 0 {
			check("the input", data)
		}
		v := valid[int(base)%len(valid)]
		b := append([]byte{}, v.raw...)
		for i := 0; i+3 <= len(flips); i += 3 {
			b[(int(flips[i])|int(flips[i+1])<<8)%len(b)] ^= flips[i+2]
		}
		if len(flips)%3 != 0 {
			b = b[:len(b)*int(flips[len(flips)-1])/256]
		}
		if bytes.Equal(b, v.raw) {
			if rep, err := Verify(bytes.NewReader(b), pubs, id); err != nil || !rep.OK() {
				t.Fatalf("a valid bundle: %+v, %v", rep, err)
			}
			return
		}
		check(fmt.Sprintf("bundle %d with flips %x", int(base)%len(valid), flips), b)
	})
}

// heapAllocated returns the bytes allocated on the heap so far.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// tarMember is one member of a bundle as an independent reader sees it.
type tarMember struct {
	name string
	typ  byte
	size int64 // as declared
	body []byte
	read int64 // bytes there were (up to the declared size)
	sum  string
}

// readMembers decrypts (with id, when in is age's format), gunzips and
// untars in up to the tar's end, as Verify does, keeping each member's
// first 4 MiB + 1 and the sha256 of all of it.
func readMembers(in []byte, id age.Identity) (members []tarMember, encrypted bool, err error) {
	var r io.Reader = bytes.NewReader(in)
	if bytes.HasPrefix(in, []byte(ageHeaderLine)) {
		encrypted = true
		if r, err = age.Decrypt(r, id); err != nil {
			return nil, true, err
		}
	}
	gz, err := gzip.NewReader(bufio.NewReader(r))
	if err != nil {
		return nil, encrypted, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return members, encrypted, nil
		}
		if err != nil {
			return members, encrypted, err
		}
		hsh := sha256.New()
		var keep bytes.Buffer
		n, err := io.Copy(io.MultiWriter(hsh, &limitedBuffer{&keep, maxMetaBytes + 1}), tr)
		members = append(members, tarMember{name: h.Name, typ: h.Typeflag, size: h.Size, body: keep.Bytes(), read: n,
			sum: hex.EncodeToString(hsh.Sum(nil))})
		if err != nil {
			return members, encrypted, err
		}
	}
}

// limitedBuffer keeps the first n bytes written to it.
type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.n - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// oversizedMember names a member Verify reads into memory (a manifest,
// receipt, signature or readme of the release) declared or found over
// maxMetaBytes, if any.
func oversizedMember(members []tarMember) string {
	releaseID := ""
	for _, m := range members {
		dir, name := path.Split(m.name)
		dir = strings.TrimSuffix(dir, "/")
		if releaseID == "" {
			releaseID = dir // as Verify takes it
		}
		if dir != releaseID || m.typ != tar.TypeReg {
			continue
		}
		switch name {
		case ManifestName, ReceiptName, ReadmeName, ManifestName + SignatureExt, ReceiptName + SignatureExt:
			if m.size > maxMetaBytes || m.read > maxMetaBytes {
				return m.name
			}
		}
	}
	return ""
}

// sameMembers says how got differs from want, "" when it does not: the
// same members in the same order, but README.txt, which nothing signs;
// the same bytes, but a signature may differ in its untrusted comment and
// in how its base64 spells the same bytes.
func sameMembers(got, want []tarMember) string {
	drop := func(ms []tarMember) []tarMember {
		var out []tarMember
		for _, m := range ms {
			if path.Base(m.name) != ReadmeName {
				out = append(out, m)
			}
		}
		return out
	}
	got, want = drop(got), drop(want)
	if len(got) != len(want) {
		return fmt.Sprintf("%d members, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.name != w.name || g.typ != w.typ:
			return fmt.Sprintf("member %d is %q (type %q), want %q (type %q)", i, g.name, g.typ, w.name, w.typ)
		case strings.HasSuffix(g.name, SignatureExt):
			if !sameSignature(g.body, w.body) {
				return fmt.Sprintf("%s is another signature: %.160q, want %.160q", g.name, g.body, w.body)
			}
		case g.sum != w.sum || g.read != w.read:
			return fmt.Sprintf("%s differs: %d bytes %.160q, want %d bytes %.160q", g.name, g.read, g.body, w.read, w.body)
		}
	}
	return ""
}

// sameSignature compares two minisign signatures but their untrusted
// comments.
func sameSignature(a, b []byte) bool {
	var x, y minisign.Signature
	if x.UnmarshalText(a) != nil || y.UnmarshalText(b) != nil {
		return false
	}
	return x.Algorithm == y.Algorithm && x.KeyID == y.KeyID && x.TrustedComment == y.TrustedComment &&
		x.Signature == y.Signature && x.CommentSignature == y.CommentSignature
}

// oversizedMeta returns a tar.gz of release r-fuzz-1 whose member name is
// declared size bytes long: zeros when size is at most maxMetaBytes+1 (a
// small gzip bomb), else 1 KiB of them (a size the data does not have).
func oversizedMeta(tb testing.TB, name string, size int64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "r-fuzz-1/" + name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		tb.Fatal(err)
	}
	n := size
	if size > maxMetaBytes+1 {
		n = 1 << 10
	}
	tw.Write(make([]byte, n))
	if n == size {
		tw.Close()
	}
	gz.Close()
	return buf.Bytes()
}
