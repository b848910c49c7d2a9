package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/schemas/release"
)

// newManifest describes a staged release as a Data Package.
func newManifest(id string, now time.Time, req Request, formats []release.Format, grant consent.Grant, snap kafkasource.Snapshot, stats release.Counts, staged []*stagedFile) *release.Manifest {
	versions := map[string]int{}
	for _, f := range formats {
		versions[f.Name] = f.Version
	}
	m := &release.Manifest{
		Schema:  release.DataPackageProfile,
		Name:    "midata-" + strings.ToLower(id),
		ID:      id,
		Title:   fmt.Sprintf("Transactions of %s for %s, %s to %s", req.CustomerID, req.Recipient, req.From.UTC().Format(time.DateOnly), req.To.UTC().Format(time.DateOnly)),
		Created: now,
		Version: release.ManifestVersion,
		Midata: release.MidataInfo{
			Recipient:      req.Recipient,
			CustomerID:     string(req.CustomerID),
			LegalBasis:     legalBasis(req.Recipient),
			ConsentIDs:     []string{grant.Event.ConsentID},
			ConsentHash:    "sha256:" + grant.Hash(),
			Categories:     grant.Categories().Names(),
			Period:         release.Period{From: req.From.UTC(), To: req.To.UTC()},
			Snapshot:       toSnapshot(snap),
			Counts:         stats,
			FormatVersions: versions,
		},
	}
	for _, f := range staged {
		rs := release.Resource{
			Name:         f.format.Name,
			Path:         f.format.File,
			Object:       f.object,
			Format:       strings.TrimPrefix(path.Ext(f.format.File), "."),
			MidataFormat: f.format.Name,
			MediaType:    f.format.MediaType,
			Encoding:     f.format.Encoding(),
			Bytes:        f.bytes,
			Hash:         "sha256:" + f.sha256,
			Rows:         f.rows,
		}
		if f.format.Schema != nil {
			rs.Type, rs.Schema = "table", f.format.Schema(grant.Categories())
		}
		m.Resources = append(m.Resources, rs)
	}
	return m
}

func readmeResource(f *stagedFile) release.Resource {
	return release.Resource{
		Name: "readme", Path: release.ReadmeFile, Object: f.object, Format: "txt", MediaType: "text/plain", Encoding: "utf-8",
		Bytes: f.bytes, Hash: "sha256:" + f.sha256,
	}
}

// put writes a small object at prefix+object through the sink, hashing it.
func (r *Runner) put(ctx context.Context, prefix, object string, body []byte) (*stagedFile, error) {
	key := prefix + object
	obj, err := r.cfg.Sink.Create(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("stage %s: %w", key, err)
	}
	hw := newHashWriter(obj)
	if _, err := io.Copy(hw, bytes.NewReader(body)); err != nil {
		obj.Abort()
		return nil, fmt.Errorf("write %s: %w", key, err)
	}
	if err := obj.Close(); err != nil {
		return nil, fmt.Errorf("write %s: %w", key, err)
	}
	return &stagedFile{key: key, object: object, bytes: hw.bytes, sha256: hw.sum()}, nil
}
