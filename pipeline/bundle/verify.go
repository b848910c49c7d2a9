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
	"path"
	"strings"

	"aead.dev/minisign"
	"filippo.io/age"

	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/schemas/release"
)

// Report is what Verify found, member by member.
type Report struct {
	ReleaseID string
	Encrypted bool
	KeyID     string   // the key that signed the manifest
	Checks    []string // one line per check passed
	Problems  []string // one line per mismatch
}

// OK says whether every check passed.
func (r Report) OK() bool { return len(r.Problems) == 0 && r.KeyID != "" }

// ErrEncrypted means the bundle is encrypted and no identity opens it.
var ErrEncrypted = errors.New("the bundle is encrypted to an age recipient: give the identity (--identity)")

// Verify reads a bundle (decrypting it with identities when it is
// encrypted) and checks the signatures of the manifest and the receipt
// with pubs, and every file against the manifest: present, its size, its
// sha256, and for ndjson its row count.
// An error means the bundle could not be read at all; a readable bundle
// that does not check has Problems.
func Verify(r io.Reader, pubs []minisign.PublicKey, identities ...age.Identity) (Report, error) {
	var rep Report
	br := bufio.NewReader(r)
	if head, _ := br.Peek(len(ageHeaderLine)); string(head) == ageHeaderLine {
		rep.Encrypted = true
		if len(identities) == 0 {
			return rep, ErrEncrypted
		}
		dec, err := age.Decrypt(br, identities...)
		if err != nil {
			return rep, fmt.Errorf("decrypt: %w", err)
		}
		br = bufio.NewReader(dec)
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return rep, fmt.Errorf("not a tar.gz bundle: %w", err)
	}
	tr := tar.NewReader(gz)
	meta := map[string][]byte{}
	type seen struct {
		size, lines int64
		sum         string
	}
	files := map[string]seen{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("read the bundle: %w", err)
		}
		dir, name := path.Split(h.Name)
		if rep.ReleaseID == "" {
			rep.ReleaseID = strings.TrimSuffix(dir, "/")
		}
		if strings.TrimSuffix(dir, "/") != rep.ReleaseID || name == "" || h.Typeflag != tar.TypeReg {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: not a file of release %s", h.Name, rep.ReleaseID))
			continue
		}
		switch name {
		case ManifestName, ReceiptName, ReadmeName, ManifestName + SignatureExt, ReceiptName + SignatureExt:
			b, err := io.ReadAll(io.LimitReader(tr, maxMetaBytes+1))
			if err != nil || len(b) > maxMetaBytes {
				return rep, fmt.Errorf("read %s: too large or unreadable", name)
			}
			meta[name] = b
			continue
		}
		hsh := sha256.New()
		lc := &lineCounter{}
		n, err := io.Copy(io.MultiWriter(hsh, lc), tr)
		if err != nil {
			return rep, fmt.Errorf("read %s: %w", name, err)
		}
		files[name] = seen{n, lc.lines(), "sha256:" + hex.EncodeToString(hsh.Sum(nil))}
	}
	for _, name := range []string{ManifestName, ReceiptName} {
		body, sig := meta[name], meta[name+SignatureExt]
		switch {
		case body == nil:
			rep.Problems = append(rep.Problems, name+": missing")
		case sig == nil:
			rep.Problems = append(rep.Problems, name+SignatureExt+": missing: the "+name+" is not signed")
		default:
			id, trusted, err := signing.Verify(pubs, body, sig)
			if err != nil {
				rep.Problems = append(rep.Problems, name+": "+err.Error())
				continue
			}
			// The signature is of this member of this release: a genuine
			// signature of another release's receipt, or of the manifest
			// put in the receipt's place, is no proof (found by FuzzVerify).
			if want := "release " + rep.ReleaseID + " " + name; trusted != want {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: signed as %q, not as %q", name, trusted, want))
				continue
			}
			if name == ManifestName {
				rep.KeyID = id
			}
			rep.Checks = append(rep.Checks, name+": signed by key "+id)
		}
	}
	var m release.Manifest
	if err := json.Unmarshal(meta[ManifestName], &m); err != nil {
		rep.Problems = append(rep.Problems, "manifest.json: not a manifest: "+err.Error())
		return rep, nil
	}
	if m.ID != rep.ReleaseID {
		rep.Problems = append(rep.Problems, fmt.Sprintf("manifest.json names release %s, the bundle %s", m.ID, rep.ReleaseID))
	}
	for _, res := range m.Resources {
		if res.Name == "readme" && res.Path == ReadmeName {
			continue // the bundle's README.txt is its own
		}
		got, ok := files[res.Path]
		delete(files, res.Path)
		switch {
		case !ok:
			rep.Problems = append(rep.Problems, res.Path+": missing")
		case got.size != res.Bytes:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %d bytes, the manifest says %d", res.Path, got.size, res.Bytes))
		case got.sum != res.Hash:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s, the manifest says %s", res.Path, got.sum, res.Hash))
		case lineRows(res.Format, res.MidataFormat, got.lines) >= 0 && lineRows(res.Format, res.MidataFormat, got.lines) != res.Rows:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %d rows, the manifest says %d", res.Path, lineRows(res.Format, res.MidataFormat, got.lines), res.Rows))
		default:
			what := "sha256 and size"
			if lineRows(res.Format, res.MidataFormat, got.lines) >= 0 {
				what += fmt.Sprintf(", %d rows", res.Rows)
			}
			rep.Checks = append(rep.Checks, res.Path+": "+what+" as the manifest says")
		}
	}
	for name := range files {
		rep.Problems = append(rep.Problems, name+": not in the manifest")
	}
	return rep, nil
}

// lineRows is the row count of an ndjson file of lines lines, one record
// a line; -1 for the other formats, whose rows Verify does not count (a
// CSV cell may hold a newline; JSON and Parquet need their readers): their
// sha256 and size, signed in the manifest, stand for their rows.
func lineRows(format, _ string, lines int64) int64 {
	if format == "ndjson" {
		return lines
	}
	return -1
}

// lineCounter counts newline-terminated lines.
type lineCounter struct {
	n    int64
	last byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n += int64(bytes.Count(p, []byte{'\n'}))
	if len(p) > 0 {
		c.last = p[len(p)-1]
	}
	return len(p), nil
}

func (c *lineCounter) lines() int64 {
	if c.last != 0 && c.last != '\n' {
		return c.n + 1
	}
	return c.n
}
