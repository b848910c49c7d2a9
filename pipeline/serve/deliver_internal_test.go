package serve

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/signing"
)

func TestPartnersNeedTheSigningKey(t *testing.T) {
	cfg := config.Default()
	cfg.S3.Bucket = "releases"
	cfg.Partners = []partners.Partner{{ID: "pds-1", Name: "PDS One"}}
	e := jobs.ExecutorFunc(nil)
	if _, err := delivering(cfg, e, nil, nil, nil, nil, nil, nil, nil, nil); err == nil || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "signing.key_file") {
		t.Errorf("no signing key: %v", err)
	}
	dir := t.TempDir()
	signing.Generate(dir)
	keys, _ := signing.Load(filepath.Join(dir, "signing.key"), nil)
	if _, err := delivering(cfg, e, keys, nil, nil, nil, nil, nil, nil, nil); err != nil {
		t.Errorf("with a signing key: %v", err)
	}
}
