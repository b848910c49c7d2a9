package delivery_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/bundle"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/delivery"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/filesink"
)

// grantsFunc answers Grant.
type grantsFunc func(customerID string, recipient schemas.Recipient) (consent.Grant, error)

func (f grantsFunc) Grant(c string, r schemas.Recipient, _ time.Time) (consent.Grant, error) {
	return f(c, r)
}

// outcomes is a jobs.Reporter that keeps the release outcomes.
type outcomes struct{ rels []jobs.Release }

func (r *outcomes) Progress(jobs.Progress) {}
func (r *outcomes) Counts(jobs.Counts)     {}
func (r *outcomes) Release(_ context.Context, rel jobs.Release) error {
	r.rels = append(r.rels, rel)
	return nil
}

func TestTheWorkersDeliverEachCommittedPartnerReleaseBeforeRecordingIt(t *testing.T) {
	dir := t.TempDir()
	store, err := filesink.New(filesink.Config{Root: filepath.Join(dir, "store"), BaseURL: "http://127.0.0.1:1", Secret: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	// A committed release of partner:pds-1, written as the runner would.
	data := []byte("{\"transaction_id\":\"T1\"}\n")
	sum := sha256.Sum256(data)
	m := release.Manifest{ID: "r-p-1", Resources: []release.Resource{{Name: "ndjson", Path: "transactions.ndjson", Format: "ndjson",
		Bytes: int64(len(data)), Hash: "sha256:" + hex.EncodeToString(sum[:]), Rows: 1, Object: "a1/transactions.ndjson"}}}
	m.Midata.Recipient, m.Midata.CustomerID = "partner:pds-1", "C1"
	m.Created = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	mb, _ := json.Marshal(m)
	for key, body := range map[string][]byte{pipeline.Prefix("r-p-1") + "a1/transactions.ndjson": data, pipeline.Prefix("r-p-1") + release.ManifestFile: mb} {
		w, _ := store.Create(t.Context(), key)
		w.Write(body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	signing.Generate(dir)
	keys, _ := signing.Load(filepath.Join(dir, "signing.key"), nil)
	secret := filepath.Join(dir, "whsec")
	os.WriteFile(secret, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600)
	var status atomic.Int32
	status.Store(200)
	var got atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			Type string `json:"type"`
		}
		json.NewDecoder(r.Body).Decode(&m)
		if m.Type == "release.delivered" { // not run.started, run.finished
			got.Add(1)
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer hook.Close()
	p := partners.Partner{ID: "pds-1", Name: "PDS One", Prefix: "out/", WebhookURL: hook.URL, WebhookSecretFile: secret}
	withdrawn := false
	d := &delivery.Deliverer{Partners: []partners.Partner{p}, Controller: "test bank",
		Config: delivery.Config{Releases: store, Target: store, Keys: keys, Webhooks: &webhook.Sender{MaxAttempts: 2, BaseDelay: time.Millisecond}},
		Grants: grantsFunc(func(c string, r schemas.Recipient) (consent.Grant, error) {
			if withdrawn {
				return consent.Grant{}, consent.ErrNoConsent
			}
			return consent.Grant{Event: schemas.ConsentEvent{ConsentID: "K-P1", CustomerID: c, Recipient: r, Status: schemas.ConsentGranted, Categories: schemas.Transactions}}, nil
		})}
	run := func(recipient schemas.Recipient) (*outcomes, error) {
		rep := &outcomes{}
		exec := d.Wrap(jobs.ExecutorFunc(func(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
			return rep.Release(ctx, jobs.Release{ReleaseID: "r-p-1", CustomerID: "C1", Status: release.StatusCommitted})
		}))
		return rep, exec.Execute(t.Context(), jobs.Request{ID: "q1", Recipient: recipient}, rep)
	}

	rep, err := run("partner:pds-1")
	if err != nil || len(rep.rels) != 1 || got.Load() != 1 {
		t.Fatalf("a partner release: %v, outcomes %v, webhooks %d", err, rep.rels, got.Load())
	}
	rc, err := store.Open(t.Context(), "out/r-p-1.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	vrep, err := bundle.Verify(rc, keys.Public())
	rc.Close()
	if err != nil || !vrep.OK() {
		t.Fatalf("the delivered bundle: %+v, %v", vrep, err)
	}
	// The partner pulls it: listed under its prefix, linked while the
	// check (the runner's LinksFor) passes, refused when it does not.
	pull := &delivery.Bundles{Partners: []partners.Partner{p}, Stores: map[string]sinks.Sink{"pds-1": store},
		Check: func(_ context.Context, id string, o pipeline.Owner) ([]pipeline.Link, error) {
			if withdrawn || o.Recipient != "partner:pds-1" {
				return nil, consent.ErrNoConsent
			}
			return nil, nil
		}}
	if list, err := pull.List(t.Context(), "pds-1"); err != nil || len(list) != 1 || list[0].ReleaseID != "r-p-1" || list[0].Key != "out/r-p-1.tar.gz" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if l, err := pull.Link(t.Context(), "pds-1", "r-p-1"); err != nil || !strings.Contains(l.URL, "out/r-p-1.tar.gz") || time.Until(l.ExpiresAt) > time.Hour {
		t.Errorf("Link = %+v, %v", l, err)
	}
	if _, err := pull.Link(t.Context(), "pds-1", "r-none"); !errors.Is(err, sinks.ErrNotFound) {
		t.Errorf("Link of no bundle: %v", err)
	}
	if _, err := pull.List(t.Context(), "pds-2"); !errors.Is(err, sinks.ErrNotFound) {
		t.Errorf("List of an unconfigured partner: %v", err)
	}
	withdrawn = true
	if _, err := pull.Link(t.Context(), "pds-1", "r-p-1"); !errors.Is(err, consent.ErrNoConsent) {
		t.Errorf("Link after a withdrawal: %v", err)
	}
	withdrawn = false
	if _, err := run("self"); err != nil || got.Load() != 1 {
		t.Errorf("a self release was delivered (webhooks %d) or failed: %v", got.Load(), err)
	}
	// A refused webhook fails the run, not as transient; a store failure
	// would be retried.
	status.Store(500)
	if rep, err := run("partner:pds-1"); err == nil || errors.Is(err, jobs.ErrTransient) || len(rep.rels) != 0 || !strings.Contains(err.Error(), "webhook") {
		t.Errorf("webhook down: %v (outcomes %v), want the run failed naming the webhook, the outcome not recorded", err, rep.rels)
	}
	// A withdrawal since the commit: nothing goes, the outcome is recorded.
	status.Store(200)
	withdrawn = true
	before := got.Load()
	if rep, err := run("partner:pds-1"); err != nil || len(rep.rels) != 1 || got.Load() != before || !strings.HasPrefix(rep.rels[0].Reason, delivery.NotDelivered) {
		t.Errorf("after a withdrawal: %v, outcomes %v, webhooks %d → %d", err, rep.rels, before, got.Load())
	}
	withdrawn = false

	// With the ledger (the real broker): a refused webhook fails the run
	// for good; delivered on a later run with the same bundle bytes; once
	// delivered, never sent again.
	brokers := testbench.Kafka(t)
	runs := testbench.UniqueName(t, "runs")
	testbench.CreateTopic(t, brokers, runs, topics.RunsPartitions)
	conn := topics.Connection{Brokers: brokers}
	d.Activity = activity.NewLedger(conn, runs, nil)
	defer d.Activity.Close()
	if d.View, err = activity.OpenView(t.Context(), conn, runs, nil); err != nil {
		t.Fatal(err)
	}
	defer d.View.Close()
	bundleBytes := func() []byte {
		rc, err := store.Open(t.Context(), "out/r-p-1.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return b
	}
	status.Store(500)
	if _, err := run("partner:pds-1"); !jobs.IsPermanent(err) {
		t.Errorf("refused webhook with the ledger: %v, want a permanent error", err)
	}
	first := bundleBytes()
	if dl, ok := d.View.Delivery("pds-1", "r-p-1"); d.View.Sync(t.Context()) != nil || !ok || dl.Status != "failed" || dl.HTTPStatus != 500 || dl.Attempts != 2 {
		dl, ok = d.View.Delivery("pds-1", "r-p-1")
		t.Errorf("the failed delivery on the ledger: %+v %v", dl, ok)
	}
	status.Store(200)
	before = got.Load()
	if _, err := run("partner:pds-1"); err != nil || got.Load() != before+1 {
		t.Fatalf("delivery after the receiver is back: %v, webhooks %d → %d", err, before, got.Load())
	}
	if !bytes.Equal(first, bundleBytes()) {
		t.Error("the bundle delivered again differs from the first: a receiver sees other bytes under the same key and webhook-id")
	}
	if rep, err := run("partner:pds-1"); err != nil || got.Load() != before+1 || len(rep.rels) != 1 {
		t.Errorf("a delivered release run again: %v, webhooks %d → %d, outcomes %v; want no webhook, the outcome recorded", err, before+1, got.Load(), rep.rels)
	}
}
