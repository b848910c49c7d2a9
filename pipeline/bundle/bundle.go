// Package bundle makes and checks a partner bundle: one tar.gz per
// release holding its data files, manifest.json with the organisation's
// minisign signature (manifest.json.minisig), the customer's consent
// receipt (consent-receipt.json, signed the same way) and README.txt,
// optionally encrypted to the partner's age recipient. Everything in it is
// checkable with standard tools: `age -d`, `tar xzf`, `minisign -V` and
// `sha256sum`; Verify (what `midata verify` runs) does all of it at once.
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/midata/midata/pipeline/signing"
)

// Names of the members every bundle has, under the release's folder.
const (
	ManifestName  = "manifest.json"
	ReceiptName   = "consent-receipt.json"
	ReadmeName    = "README.txt"
	SignatureExt  = ".minisig"
	maxMetaBytes  = 4 << 20 // manifest, receipt, signatures, readme
	ageHeaderLine = "age-encryption.org/v1"
)

// File is one data file of the release, read when the bundle is written.
type File struct {
	Path string // as the manifest's resource path names it
	Size int64
	Open func() (io.ReadCloser, error)
}

// Bundle is what Write packs.
type Bundle struct {
	ReleaseID string
	Manifest  []byte // manifest.json as committed
	Receipt   []byte // the consent receipt, JSON
	Files     []File
	Created   time.Time // the members' time; zero: now
}

// Write packs b into w as tar.gz, signed with keys, and encrypted to
// recipients when there are any (age, X25519 or any age.Recipient).
func Write(w io.Writer, b Bundle, keys *signing.Keys, recipients ...age.Recipient) error {
	switch {
	case keys == nil:
		return fmt.Errorf("bundle %s: no signing key: a bundle is never sent unsigned", b.ReleaseID)
	case b.ReleaseID == "" || strings.ContainsAny(b.ReleaseID, "/\\") || strings.HasPrefix(b.ReleaseID, "."):
		return fmt.Errorf("bundle %q: not a release id", b.ReleaseID)
	}
	out := w
	var enc io.WriteCloser
	if len(recipients) > 0 {
		var err error
		if enc, err = age.Encrypt(w, recipients...); err != nil {
			return fmt.Errorf("bundle %s: encrypt: %w", b.ReleaseID, err)
		}
		out = enc
	}
	gz := gzip.NewWriter(out)
	tw := tar.NewWriter(gz)
	at := b.Created.UTC().Truncate(time.Second)
	if b.Created.IsZero() {
		at = time.Unix(0, 0).UTC() // still the same bytes at every delivery
	}
	put := func(name string, size int64, r io.Reader) error {
		h := &tar.Header{Name: b.ReleaseID + "/" + name, Mode: 0o644, Size: size, ModTime: at, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		n, err := io.Copy(tw, r)
		if err == nil && n != size {
			err = fmt.Errorf("%s: %d bytes, want %d", name, n, size)
		}
		return err
	}
	meta := []struct {
		name string
		body []byte
	}{
		{ReadmeName, readme(b.ReleaseID, keys.ID())},
		{ManifestName, b.Manifest},
		{ManifestName + SignatureExt, keys.Sign(b.Manifest, "release "+b.ReleaseID+" "+ManifestName)},
		{ReceiptName, b.Receipt},
		{ReceiptName + SignatureExt, keys.Sign(b.Receipt, "release "+b.ReleaseID+" "+ReceiptName)},
	}
	for _, m := range meta {
		if err := put(m.name, int64(len(m.body)), bytes.NewReader(m.body)); err != nil {
			return fmt.Errorf("bundle %s: %w", b.ReleaseID, err)
		}
	}
	for _, f := range b.Files {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("bundle %s: open %s: %w", b.ReleaseID, f.Path, err)
		}
		err = put(f.Path, f.Size, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("bundle %s: %w", b.ReleaseID, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	if enc != nil {
		return enc.Close()
	}
	return nil
}

func readme(releaseID, keyID string) []byte {
	return fmt.Appendf(nil, `midata release %[1]s

This bundle holds one release of a customer's data, made under the consent
in consent-receipt.json, described file by file in manifest.json (each
file's sha256 and row count).

To check it yourself (the public key is served at
/.well-known/midata-signing-key; this bundle is signed with key %[2]s):

  minisign -V -P <public key> -m manifest.json
  minisign -V -P <public key> -m consent-receipt.json
  sha256sum <file>       # compare with "hash" in manifest.json

or all at once: midata verify <bundle> --pubkey <public key file>
`, releaseID, keyID)
}
