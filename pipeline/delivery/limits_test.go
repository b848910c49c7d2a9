package delivery_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/schemas"
)

// grantsOf answers every customer with a grant of cats.
type grantsOf schemas.Category

func (g grantsOf) Sync(context.Context) error { return nil }
func (g grantsOf) Grant(c string, r schemas.Recipient, _ time.Time) (consent.Grant, error) {
	return consent.Grant{Event: schemas.ConsentEvent{CustomerID: c, Recipient: r, Categories: schemas.Category(g)}}, nil
}
func (g grantsOf) GrantedWhere(r schemas.Recipient, now time.Time, _ func(string) bool) map[string]consent.Grant {
	gr, _ := g.Grant("C1", r, now)
	return map[string]consent.Grant{"C1": gr}
}

func TestTheRunnerSeesOnlyWhatAPartnerMayReceiveOfAGrant(t *testing.T) {
	ps := []partners.Partner{{ID: "tx-only", Categories: []string{"transactions"}}, {ID: "bal-only", Categories: []string{"balances"}}}
	g := delivery.LimitedGrants{Grants: grantsOf(schemas.Transactions | schemas.Merchant), Partners: ps}
	if gr, err := g.Grant("C1", "partner:tx-only", time.Now()); err != nil || gr.Categories() != schemas.Transactions {
		t.Errorf("tx-only: %v %v, want transactions only", gr.Categories(), err)
	}
	if _, err := g.Grant("C1", "partner:bal-only", time.Now()); !errors.Is(err, consent.ErrNoConsent) {
		t.Errorf("bal-only of a grant without balances: %v, want no consent", err)
	}
	if got := g.GrantedWhere("partner:bal-only", time.Now(), nil); len(got) != 0 {
		t.Errorf("bulk for bal-only: %v, want nobody", got)
	}
	if gr, err := g.Grant("C1", "self", time.Now()); err != nil || gr.Categories() != schemas.Transactions|schemas.Merchant {
		t.Errorf("self: %v %v, want the whole grant", gr.Categories(), err)
	}
	check := delivery.PartnerFormats([]partners.Partner{{ID: "nd", Formats: []string{"ndjson"}}}, func(jobs.Request) error { return nil })
	if err := check(jobs.Request{Recipient: "partner:nd", Formats: []string{"parquet"}}); err == nil {
		t.Error("a parquet request for a partner that may receive ndjson only is accepted")
	}
	if err := check(jobs.Request{Recipient: "self", Formats: []string{"parquet"}}); err != nil {
		t.Errorf("self parquet: %v", err)
	}
}
