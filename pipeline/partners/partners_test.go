package partners

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/midata/midata/schemas"
)

func TestAPartnerIsCheckedWholeAtStart(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "whsec")
	os.WriteFile(secret, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600)
	weak := filepath.Join(dir, "weak")
	os.WriteFile(weak, []byte("whsec_c2hvcnQ=\n"), 0o600)
	id, _ := age.GenerateX25519Identity()
	good := Partner{ID: "pds-one", Name: "PDS One", Prefix: "incoming/", WebhookURL: "https://pds.example/hooks",
		WebhookSecretFile: secret, AgeRecipient: id.Recipient().String(), Formats: []string{"ndjson", "parquet"}, Categories: []string{"transactions"}}
	if err := Check([]Partner{good}); err != nil {
		t.Fatal(err)
	}
	if s, err := good.WebhookSecret(); err != nil || !strings.HasPrefix(s, "whsec_") {
		t.Errorf("WebhookSecret = %q, %v", s, err)
	}
	if r, err := good.AgeRecipientKey(); err != nil || r == nil {
		t.Errorf("AgeRecipientKey = %v, %v", r, err)
	}
	if !good.Allows("ndjson") || good.Allows("midata-csv") || !(Partner{}).Allows("midata-csv") {
		t.Error("Allows does not follow formats")
	}
	for name, edit := range map[string]func(*Partner){
		"a bad id":                   func(p *Partner) { p.ID = "PDS" },
		"no name":                    func(p *Partner) { p.Name = " " },
		"an absolute prefix":         func(p *Partner) { p.Prefix = "/x" },
		"a webhook that is not http": func(p *Partner) { p.WebhookURL = "ftp://x" },
		"a webhook without a secret": func(p *Partner) { p.WebhookSecretFile = "" },
		"a missing secret file":      func(p *Partner) { p.WebhookSecretFile = filepath.Join(dir, "none") },
		"a weak secret":              func(p *Partner) { p.WebhookSecretFile = weak },
		"a bad age recipient":        func(p *Partner) { p.AgeRecipient = "age1nope" },
		"an unknown format":          func(p *Partner) { p.Formats = []string{"xml"} },
		"an unknown category":        func(p *Partner) { p.Categories = []string{"health"} },
	} {
		p := good
		edit(&p)
		if err := Check([]Partner{p}); err == nil || !strings.Contains(err.Error(), "partners[0]: partner ") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := Check([]Partner{good, good}); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Errorf("a repeated id: %v", err)
	}
	if p := good.Recipient(); p != "partner:pds-one" {
		t.Errorf("Recipient = %s", p)
	}
}

func TestAPartnerReceivesOnlyTheCategoriesAndFormatsItMayAskFor(t *testing.T) {
	p := Partner{ID: "pds-one", Categories: []string{"transactions", "merchant"}, Formats: []string{"ndjson"}}
	all := schemas.Transactions | schemas.Balances | schemas.Merchant
	if got := p.Granted(all); got != schemas.Transactions|schemas.Merchant {
		t.Errorf("Granted(all) = %s, want transactions,merchant", got)
	}
	if got := p.Granted(schemas.Balances); got != 0 {
		t.Errorf("Granted(balances) = %s, want nothing", got)
	}
	if got := (Partner{ID: "any"}).Granted(all); got != all {
		t.Errorf("a partner without a limit receives %s of %s", got, all)
	}
	if err := p.CheckFormats([]string{"ndjson"}); err != nil {
		t.Errorf("ndjson: %v", err)
	}
	if err := p.CheckFormats([]string{"ndjson", "parquet"}); err == nil || !strings.Contains(err.Error(), "parquet") {
		t.Errorf("parquet: %v, want refused naming it", err)
	}
}
