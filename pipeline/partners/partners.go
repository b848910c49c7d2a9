// Package partners describes the partners midata delivers to (personal
// data stores): who they are, where their bundles go, how they are told
// (a Standard Webhooks endpoint), the age recipient bundles are encrypted
// to, and which formats and categories they may ask for. They are
// declared in the configuration (the key partners).
package partners

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// Partner is one partner, as the configuration declares it.
type Partner struct {
	// ID is the partner's id, as in the recipient partner:<id>.
	ID string `yaml:"id"`
	// Name is shown to customers ("what each partner receives").
	Name string `yaml:"name"`
	// Bucket and Prefix are where its bundles are delivered; an empty
	// bucket means the releases bucket.
	Bucket string `yaml:"bucket"`
	Prefix string `yaml:"prefix"`
	// WebhookURL is told of each delivery; WebhookSecretFile holds its
	// whsec_ secret (a mounted secret, never inline).
	WebhookURL        string `yaml:"webhook_url"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// WebhookAttempts is how many times a webhook is tried before its
	// delivery fails (1 s doubling to 5 min between, with jitter);
	// default 8.
	WebhookAttempts int `yaml:"webhook_attempts"`
	// AgeRecipient, when set, is the age public key (age1…) bundles are
	// encrypted to.
	AgeRecipient string `yaml:"age_recipient"`
	// Formats and Categories are what the partner may ask for; empty
	// means every format, and every category its customers grant.
	Formats    []string `yaml:"formats"`
	Categories []string `yaml:"categories"`
}

// Sender sends the partner's webhooks, with its attempts.
func (p Partner) Sender() *webhook.Sender { return &webhook.Sender{MaxAttempts: p.WebhookAttempts} }

// Recipient is the partner as a release recipient.
func (p Partner) Recipient() schemas.Recipient { return schemas.PartnerRecipient(p.ID) }

// Validate reports what is wrong with p, all at once, reading its secret
// file to check it.
func (p Partner) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !schemas.ValidPartnerID(p.ID) {
		add("id %q: want 1-64 of a-z 0-9 . _ -", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" {
		add("name: required (customers see it)")
	}
	if strings.HasPrefix(p.Prefix, "/") || strings.Contains(p.Prefix, "..") {
		add("prefix %q: want a relative key prefix", p.Prefix)
	}
	if u, err := url.Parse(p.WebhookURL); p.WebhookURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
		add("webhook_url %q: want an http(s) URL", p.WebhookURL)
	}
	if (p.WebhookURL == "") != (p.WebhookSecretFile == "") {
		add("webhook_url and webhook_secret_file go together")
	} else if p.WebhookSecretFile != "" {
		if _, err := p.WebhookSecret(); err != nil {
			add("%v", err)
		}
	}
	if p.WebhookAttempts < 0 || p.WebhookAttempts > 20 {
		add("webhook_attempts %d: want 1 to 20 (0: the default, 8)", p.WebhookAttempts)
	}
	if _, err := p.AgeRecipientKey(); err != nil {
		add("%v", err)
	}
	for _, f := range p.Formats {
		if _, err := release.Lookup(f); err != nil {
			add("format %q: %v", f, err)
		}
	}
	for _, c := range p.Categories {
		if _, err := schemas.ParseCategory(c); err != nil {
			add("category %q: want transactions, balances or merchant", c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("partner %s: %w", p.ID, err)
	}
	return nil
}

// WebhookSecret reads the webhook secret from its file (the first line).
func (p Partner) WebhookSecret() (string, error) {
	b, err := os.ReadFile(p.WebhookSecretFile)
	if err != nil {
		return "", fmt.Errorf("webhook_secret_file: %w", err)
	}
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if _, err := webhook.ParseSecret(s); err != nil {
		return "", fmt.Errorf("webhook_secret_file %s: %v", p.WebhookSecretFile, err)
	}
	return s, nil
}

// AgeRecipientKey parses AgeRecipient; nil when none is set.
func (p Partner) AgeRecipientKey() (age.Recipient, error) {
	if p.AgeRecipient == "" {
		return nil, nil
	}
	r, err := age.ParseX25519Recipient(p.AgeRecipient)
	if err != nil {
		return nil, fmt.Errorf("age_recipient: want an age public key (age1…): %v", err)
	}
	return r, nil
}

// Allows says whether the partner may receive format.
func (p Partner) Allows(format string) bool {
	return len(p.Formats) == 0 || slices.Contains(p.Formats, format)
}

// Granted is what the partner receives of a grant of categories: those
// of them it may ask for (Categories; all when empty).
func (p Partner) Granted(categories schemas.Category) schemas.Category {
	if len(p.Categories) == 0 {
		return categories
	}
	var allowed schemas.Category
	for _, name := range p.Categories {
		c, _ := schemas.ParseCategory(name) // Validate checked them
		allowed |= c
	}
	return categories & allowed
}

// CheckFormats says which of formats the partner may not receive.
func (p Partner) CheckFormats(formats []string) error {
	for _, f := range formats {
		if !p.Allows(f) {
			return fmt.Errorf("partner %s may not receive format %s: it may ask for %s", p.ID, f, strings.Join(p.Formats, ", "))
		}
	}
	return nil
}

// Check validates every partner and that no id is declared twice.
func Check(list []Partner) error {
	var errs []error
	seen := map[string]bool{}
	for i, p := range list {
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("partners[%d]: %w", i, err))
		}
		if seen[p.ID] {
			errs = append(errs, fmt.Errorf("partners[%d]: id %s declared twice", i, p.ID))
		}
		seen[p.ID] = true
	}
	return errors.Join(errs...)
}
