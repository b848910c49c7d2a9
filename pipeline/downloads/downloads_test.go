package downloads_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/deploy/testbench"
	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/activity"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/downloads"
	"github.com/midata/midata/pipeline/links"
	"github.com/midata/midata/pipeline/notify"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
	"github.com/midata/midata/sinks/s3sink"
)

// testTimeout bounds every wait of a test.
const testTimeout = 60 * time.Second

// bench is one test's world on the real servers: a fresh runs topic (the
// ledger), a fresh consent topic, a fresh bucket, and a Service on them.
type bench struct {
	conn    topics.Connection
	runs    string
	consent string
	bucket  string
	store   *s3sink.Sink
	prod    *topics.Producer
	ledger  *activity.Ledger
	view    *activity.View
	grants  *consent.View
	signer  *links.Signer
	svc     *downloads.Service
}

// newBench makes the bench, or skips the test when no S3 bench is
// configured (as the s3sink tests do). Everything is closed at cleanup.
func newBench(t *testing.T) *bench {
	t.Helper()
	srv, ok := testbench.S3(t)
	if !ok {
		t.Skip("needs a real S3 server: set MIDATA_TEST_S3, MIDATA_TEST_S3_ACCESS_KEY and MIDATA_TEST_S3_SECRET_KEY (deploy/testbench/bench.sh env)")
	}
	brokers := testbench.Kafka(t)
	ctx := t.Context()
	b := &bench{conn: topics.Connection{Brokers: brokers}, runs: testbench.UniqueName(t, "runs"), consent: testbench.UniqueName(t, "consent")}
	testbench.CreateTopic(t, brokers, b.runs, topics.RunsPartitions)
	if err := topics.Ensure(ctx, b.conn, topics.ConsentSpec(b.consent)); err != nil {
		t.Fatal(err)
	}

	// The store as serve makes it: s3sink.New, credentials from the
	// standard chain.
	b.bucket = testbench.Bucket(t, srv)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	store, err := s3sink.New(ctx, s3sink.Config{Endpoint: srv.Endpoint, Bucket: b.bucket, Region: srv.Region, PathStyle: true, MaxLinkTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b.store = store

	b.prod = topics.NewProducer(b.conn, nil)
	t.Cleanup(func() { b.prod.Close() })
	b.ledger = activity.NewLedger(b.conn, b.runs, nil)
	t.Cleanup(func() { b.ledger.Close() })
	b.view = b.openView(t)
	b.grants, err = consent.OpenView(ctx, consent.ViewConfig{Kafka: b.conn, Topic: b.consent, Quarantine: b.prod,
		QuarantineTopic: testbench.UniqueName(t, "quarantine"), MaxWait: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.grants.Close() })
	b.signer = newSigner(t, "the signing secret of this bench")
	b.svc = &downloads.Service{Store: b.store, Grants: b.grants, Ledger: b.ledger, View: b.view, Signer: b.signer}
	return b
}

// openView opens another view of the bench's ledger, synced.
func (b *bench) openView(t *testing.T) *activity.View {
	t.Helper()
	v, err := activity.OpenView(t.Context(), b.conn, b.runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	b.sync(t, v)
	return v
}

func newSigner(t *testing.T, secret string) *links.Signer {
	t.Helper()
	s, err := links.NewSigner(links.DeriveKey([]byte(secret)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (b *bench) sync(t *testing.T, v *activity.View) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if err := v.Sync(ctx); err != nil {
		t.Fatalf("sync the activity view: %v", err)
	}
}

// consentEvent publishes the state of customer's grant to recipient on
// the consent topic, keyed "<customer>|<recipient>" as upstream does.
func (b *bench) consentEvent(t *testing.T, customer string, recipient schemas.Recipient, status schemas.ConsentStatus) {
	t.Helper()
	v := fmt.Sprintf(`{"consent_id":%q,"customer_id":%q,"recipient":%q,"status":%q,"categories":["transactions","merchant"],"window_from":null,"window_to":null,"expires_at":"2099-01-01T00:00:00Z","event_time":%q}`,
		"K-"+customer+"-"+strconv.FormatInt(time.Now().UnixNano(), 36), customer, recipient, status, time.Now().UTC().Format(time.RFC3339))
	if err := b.prod.Publish(t.Context(), b.consent, []byte(schemas.ConsentKey(customer, recipient)), []byte(v)); err != nil {
		t.Fatal(err)
	}
}

// stored is a release as the runner leaves it in the store.
type stored struct {
	m     *release.Manifest
	files map[string][]byte // by path
	keys  []string          // every object under its prefix
}

// writeRelease writes a committed release of customer to recipient as the
// runner would: its files under an attempt, an orphan of an earlier
// attempt, and last the manifest naming the attempt's objects.
func (b *bench) writeRelease(t *testing.T, id, customer string, recipient schemas.Recipient) stored {
	t.Helper()
	ctx := t.Context()
	s := stored{files: map[string][]byte{
		"transactions.csv": fmt.Appendf(nil, "transaction_id,customer_id,amount\nT1,%s,-1.00\nT2,%s,12.50\n", customer, customer),
		"README.txt":       fmt.Appendf(nil, "The release %s of %s.\n", id, customer),
	}}
	attempt, orphan := releasestore.NewAttempt(), releasestore.NewAttempt()
	m := &release.Manifest{ID: id, Version: release.ManifestVersion, Created: time.Now().UTC()}
	m.Midata.Recipient, m.Midata.CustomerID = recipient, customer
	put := func(key string, body []byte) {
		t.Helper()
		w, err := b.store.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			w.Abort()
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		s.keys = append(s.keys, key)
	}
	for _, path := range []string{"transactions.csv", "README.txt"} {
		body := s.files[path]
		sum := sha256.Sum256(body)
		rs := release.Resource{Name: strings.TrimSuffix(path, ".csv"), Path: path, Format: path[strings.LastIndex(path, ".")+1:],
			MediaType: "text/plain", Bytes: int64(len(body)), Hash: "sha256:" + hex.EncodeToString(sum[:]), Rows: 2,
			Object: releasestore.Object(attempt, path)}
		m.Resources = append(m.Resources, rs)
		put(pipeline.Prefix(id)+rs.Object, body)
	}
	put(pipeline.Prefix(id)+releasestore.Object(orphan, "transactions.csv"), []byte("a lost attempt's copy\n"))
	mb, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.Commit(ctx, pipeline.Prefix(id)+release.ManifestFile, mb); err != nil {
		t.Fatal(err)
	}
	s.keys = append(s.keys, pipeline.Prefix(id)+release.ManifestFile)
	s.m = m
	return s
}

// list returns every key under prefix in the bucket.
func (b *bench) list(t *testing.T, prefix string) []string {
	t.Helper()
	var keys []string
	if err := b.store.List(t.Context(), prefix, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func self(customer string) pipeline.Owner {
	return pipeline.Owner{CustomerID: customer, Recipient: schemas.RecipientSelf}
}

// mint returns the links of the customer's own release, or fails.
func (b *bench) mint(t *testing.T, id, customer string) []pipeline.Link {
	t.Helper()
	ls, err := b.svc.Links(t.Context(), id, self(customer))
	if err != nil {
		t.Fatalf("Links(%s, %s): %v", id, customer, err)
	}
	return ls
}

// token returns the token of a link's URL.
func token(t *testing.T, l pipeline.Link) string {
	t.Helper()
	tok, ok := strings.CutPrefix(l.URL, downloads.Path)
	if !ok || tok == "" || strings.Contains(tok, "/") {
		t.Fatalf("link URL %q: want %s<token>", l.URL, downloads.Path)
	}
	return tok
}

// linkID is the id a token names.
func linkID(t *testing.T, l pipeline.Link) string {
	t.Helper()
	id, _, _ := strings.Cut(token(t, l), ".")
	return id
}

// get reads a presigned URL whole.
func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: testTimeout}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET the presigned URL: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// follow visits l and downloads the file it leads to.
func (b *bench) follow(t *testing.T, l pipeline.Link) []byte {
	t.Helper()
	u, err := b.svc.Visit(t.Context(), token(t, l))
	if err != nil {
		t.Fatalf("Visit(%s): %v", l.Path, err)
	}
	resp, body := get(t, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the presigned URL of %s: %s: %s", l.Path, resp.Status, body)
	}
	return body
}

var reasonNames = map[links.Reason]string{links.Expired: "Expired", links.Revoked: "Revoked", links.Withdrawn: "Withdrawn",
	links.Deleted: "Deleted", links.Invalid: "Invalid", links.Unavailable: "Unavailable"}

// refused visits token and returns the refusal, which must be for want.
func (b *bench) refused(t *testing.T, tok string, want links.Reason) *downloads.Refusal {
	t.Helper()
	u, err := b.svc.Visit(t.Context(), tok)
	var r *downloads.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("Visit = %q, %v; want a *downloads.Refusal, %s", u, err, reasonNames[want])
	}
	if r.Reason != want || u != "" {
		t.Fatalf("Visit = %q, refused %s (%v); want refused %s", u, reasonNames[r.Reason], r.Err, reasonNames[want])
	}
	return r
}

// downloadsOf returns the customer's downloads on the ledger, synced.
func (b *bench) downloadsOf(t *testing.T, customer string) []activity.Download {
	t.Helper()
	b.sync(t, b.view)
	return b.view.Of(customer).Downloads
}

func TestLinksLeadToTheFilesAndEachVisitIsADownloadOnTheLedger(t *testing.T) {
	b := newBench(t)
	rel := b.writeRelease(t, "r2026-03-C1", "C1", schemas.RecipientSelf)
	b.consentEvent(t, "C1", schemas.RecipientSelf, schemas.ConsentGranted)

	before := time.Now().UTC()
	got := b.mint(t, rel.m.ID, "C1")
	after := time.Now().UTC()
	if len(got) != len(rel.m.Resources) {
		t.Fatalf("Links = %+v, want one per resource (%d)", got, len(rel.m.Resources))
	}
	const week = 7 * 24 * time.Hour
	ids := map[string]release.Resource{} // link id → its resource
	for i, rs := range rel.m.Resources {
		l := got[i]
		if l.Path != rs.Path || !l.ExpiresAt.Equal(l.ExpiresAt.Truncate(time.Second)) ||
			l.ExpiresAt.Before(before.Add(week).Truncate(time.Second)) || l.ExpiresAt.After(after.Add(week)) {
			t.Errorf("link %d = %+v; want %s, expiring a week after it was minted, in whole seconds", i, l, rs.Path)
		}
		id, exp, err := b.signer.Check(token(t, l), time.Now())
		if err != nil || !exp.Equal(l.ExpiresAt) {
			t.Errorf("the token of %s: %v (expiry %v); want one of the Service's signer, expiring %v", rs.Path, err, exp, l.ExpiresAt)
		}
		if _, dup := ids[id]; dup {
			t.Errorf("two links share id %s", id)
		}
		ids[id] = rs
	}

	// The links are on the ledger: what each leads to, for whom.
	b.sync(t, b.view)
	if on := b.view.Of("C1").Links; len(on) != len(got) {
		t.Fatalf("C1's links on the view: %+v, want the %d minted", on, len(got))
	}
	for i, l := range got {
		rs := rel.m.Resources[i]
		v, ok := b.view.Link(linkID(t, l))
		if !ok || v.ReleaseID != rel.m.ID || v.CustomerID != "C1" || v.Recipient != "self" || v.File != rs.Path ||
			v.Object != pipeline.Prefix(rel.m.ID)+rs.Object || !v.ExpiresAt.Equal(l.ExpiresAt) || v.RevokedAt != nil ||
			v.IssuedAt.Before(before) || v.IssuedAt.After(after) {
			t.Errorf("link of %s on the view: %+v, %v", rs.Path, v, ok)
		}
	}

	// Each visit redirects to a short-lived presigned URL of the file's
	// object, which gives exactly the file's bytes.
	start := time.Now().UTC()
	for i, l := range got {
		rs := rel.m.Resources[i]
		u, err := b.svc.Visit(t.Context(), token(t, l))
		if err != nil {
			t.Fatalf("Visit(%s): %v", rs.Path, err)
		}
		pu, err := url.Parse(u)
		if err != nil || !strings.HasSuffix(pu.Path, "/"+b.bucket+"/"+pipeline.Prefix(rel.m.ID)+rs.Object) ||
			pu.Query().Get("X-Amz-Expires") != strconv.Itoa(int(downloads.DefaultRedirectTTL/time.Second)) {
			t.Errorf("Visit(%s) = %s: want a presigned GET of %s living %v", rs.Path, u, rs.Object, downloads.DefaultRedirectTTL)
		}
		resp, body := get(t, u)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %s", rs.Path, resp.Status, body)
		}
		sum := sha256.Sum256(body)
		if !bytes.Equal(body, rel.files[rs.Path]) || "sha256:"+hex.EncodeToString(sum[:]) != rs.Hash {
			t.Errorf("%s: got %q (sha256 %x), want %q (%s)", rs.Path, body, sum, rel.files[rs.Path], rs.Hash)
		}
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, rs.Path) {
			t.Errorf("%s: Content-Disposition %q, want an attachment named %s", rs.Path, cd, rs.Path)
		}
	}
	end := time.Now().UTC()

	// Each visit is a download on the ledger: the link, the release, the
	// file; a second visit of a link is a second download.
	dls := b.downloadsOf(t, "C1")
	if len(dls) != len(got) {
		t.Fatalf("C1's downloads: %+v, want %d", dls, len(got))
	}
	for _, d := range dls {
		rs, ok := ids[d.LinkID]
		if !ok || d.ReleaseID != rel.m.ID || d.CustomerID != "C1" || d.File != rs.Path || d.At.Before(start) || d.At.After(end) {
			t.Errorf("download %+v: want one of the links minted, of %s, between %v and %v", d, rel.m.ID, start, end)
		}
	}
	if d := dls[0]; d.File == dls[1].File {
		t.Errorf("both downloads are of %s, want one of each file", d.File)
	}
	if body := b.follow(t, got[0]); !bytes.Equal(body, rel.files[got[0].Path]) {
		t.Errorf("the second visit of %s gave %q", got[0].Path, body)
	}
	if dls := b.downloadsOf(t, "C1"); len(dls) != len(got)+1 || dls[0].LinkID != linkID(t, got[0]) {
		t.Errorf("after a second visit of %s: downloads %+v, want it on top of the first %d", got[0].Path, dls, len(got))
	}
	if dls := b.downloadsOf(t, "C2"); len(dls) != 0 {
		t.Errorf("C2's downloads: %+v, want none", dls)
	}
}

func TestOnlyTheOwnerGetsLinks(t *testing.T) {
	b := newBench(t)
	rel := b.writeRelease(t, "r2026-03-C1", "C1", schemas.RecipientSelf)
	// Every grant stands: a refusal can only be the owner check's.
	b.consentEvent(t, "C1", schemas.RecipientSelf, schemas.ConsentGranted)
	b.consentEvent(t, "C2", schemas.RecipientSelf, schemas.ConsentGranted)
	b.consentEvent(t, "C1", "partner:x", schemas.ConsentGranted)

	for _, o := range []pipeline.Owner{
		self("C2"), // another customer
		{CustomerID: "C1", Recipient: "partner:x"}, // the customer, for a partner
		{Recipient: "partner:x"},                   // a partner, and no Fallback
	} {
		if ls, err := b.svc.Links(t.Context(), rel.m.ID, o); !errors.Is(err, sinks.ErrNotFound) || ls != nil {
			t.Errorf("Links of C1's release for %+v = %+v, %v; want nothing, an error wrapping sinks.ErrNotFound", o, ls, err)
		}
	}
	if ls, err := b.svc.Links(t.Context(), "r-none", self("C1")); !errors.Is(err, sinks.ErrNotFound) || ls != nil {
		t.Errorf("Links of no release = %+v, %v; want sinks.ErrNotFound", ls, err)
	}
	b.sync(t, b.view)
	for _, c := range []string{"C1", "C2"} {
		if on := b.view.Of(c).Links; len(on) != 0 {
			t.Errorf("%s's links on the view: %+v, want none minted", c, on)
		}
	}
	// The owner gets them.
	if ls := b.mint(t, rel.m.ID, "C1"); len(ls) != len(rel.m.Resources) {
		t.Errorf("the owner's links: %+v", ls)
	}
}

func TestARefusedVisitSaysWhyAndRecordsNoDownload(t *testing.T) {
	b := newBench(t)
	b.consentEvent(t, "C1", schemas.RecipientSelf, schemas.ConsentGranted)
	rel := b.writeRelease(t, "r2026-03-C1", "C1", schemas.RecipientSelf)
	// noDownload fails if a refusal recorded a download of C1's.
	noDownload := func(t *testing.T, do func()) {
		t.Helper()
		n := len(b.downloadsOf(t, "C1"))
		do()
		if got := b.downloadsOf(t, "C1"); len(got) != n {
			t.Errorf("a refused visit recorded a download: %d → %d (%+v)", n, len(got), got)
		}
	}

	t.Run("a tampered token is invalid", func(t *testing.T) {
		ls := b.mint(t, rel.m.ID, "C1")
		id, rest, _ := strings.Cut(token(t, ls[0]), ".")
		exp, mac, _ := strings.Cut(rest, ".")
		n, _ := strconv.ParseInt(exp, 10, 64)
		otherID, _, _ := strings.Cut(token(t, ls[1]), ".")
		noDownload(t, func() {
			for _, tok := range []string{
				id + "." + strconv.FormatInt(n+86400, 10) + "." + mac, // a longer life
				otherID + "." + exp + "." + mac,                       // another link's id
			} {
				if r := b.refused(t, tok, links.Invalid); !errors.Is(r, links.ErrBadSignature) || !r.When.IsZero() {
					t.Errorf("%s: %v at %v, want a bad signature, no time", tok, r, r.When)
				}
			}
			b.refused(t, token(t, ls[0])[1:], links.Invalid)
			b.refused(t, "", links.Invalid)
		})
		b.follow(t, ls[0]) // the genuine one works
	})

	t.Run("a token of another signer is invalid", func(t *testing.T) {
		ls := b.mint(t, rel.m.ID, "C1")
		other := newSigner(t, "another deployment's secret")
		tok, err := other.Mint(linkID(t, ls[0]), ls[0].ExpiresAt) // a real link's id
		if err != nil {
			t.Fatal(err)
		}
		noDownload(t, func() {
			if r := b.refused(t, tok, links.Invalid); !errors.Is(r, links.ErrBadSignature) {
				t.Errorf("refused: %v, want a bad signature", r)
			}
			// Signed by the Service's signer but never minted: not on the
			// ledger.
			unknown, err := b.signer.Mint(links.NewID(), time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			b.refused(t, unknown, links.Invalid)
		})
	})

	t.Run("a link past its expiry is expired", func(t *testing.T) {
		b.svc.Now = func() time.Time { return time.Now().Add(-8 * 24 * time.Hour) }
		ls := b.mint(t, rel.m.ID, "C1")
		b.svc.Now = nil
		if !ls[0].ExpiresAt.Before(time.Now()) {
			t.Fatalf("a link minted 8 days ago expires at %v", ls[0].ExpiresAt)
		}
		noDownload(t, func() {
			r := b.refused(t, token(t, ls[0]), links.Expired)
			if !r.When.Equal(ls[0].ExpiresAt) || !errors.Is(r, links.ErrExpired) {
				t.Errorf("expired at %v (%v), want at %v", r.When, r.Err, ls[0].ExpiresAt)
			}
		})
	})

	t.Run("a revoked link is revoked, and only by its customer", func(t *testing.T) {
		ls := b.mint(t, rel.m.ID, "C1")
		id := linkID(t, ls[0])
		if l, err := b.svc.RevokeLink(t.Context(), "C2", id); !errors.Is(err, downloads.ErrNotYours) || !errors.Is(err, sinks.ErrNotFound) || l.ID != "" {
			t.Errorf("RevokeLink by C2 = %+v, %v; want ErrNotYours (sinks.ErrNotFound)", l, err)
		}
		if _, err := b.svc.RevokeLink(t.Context(), "C1", links.NewID()); !errors.Is(err, sinks.ErrNotFound) {
			t.Errorf("RevokeLink of no link: %v, want sinks.ErrNotFound", err)
		}
		b.sync(t, b.view)
		if l, _ := b.view.Link(id); l.RevokedAt != nil {
			t.Fatalf("C2 revoked C1's link: %+v", l)
		}
		b.follow(t, ls[0]) // still works

		l, err := b.svc.RevokeLink(t.Context(), "C1", id)
		if err != nil || l.ID != id || l.RevokedAt == nil || l.RevokedBy != "customer" {
			t.Fatalf("RevokeLink by C1 = %+v, %v", l, err)
		}
		if v, _ := b.view.Link(id); v.RevokedAt == nil || !v.RevokedAt.Equal(*l.RevokedAt) || v.Object != pipeline.Prefix(rel.m.ID)+rel.m.Resources[0].Object {
			t.Errorf("the revoked link on the view: %+v", v)
		}
		noDownload(t, func() {
			if r := b.refused(t, token(t, ls[0]), links.Revoked); !r.When.Equal(*l.RevokedAt) {
				t.Errorf("revoked at %v, want %v", r.When, *l.RevokedAt)
			}
		})
		// Revoking again changes nothing; the other link still works.
		if again, err := b.svc.RevokeLink(t.Context(), "C1", id); err != nil || !again.RevokedAt.Equal(*l.RevokedAt) {
			t.Errorf("RevokeLink again = %+v, %v; want the first revocation", again, err)
		}
		b.follow(t, ls[1])
	})

	t.Run("every link minted before a release's revocation is revoked", func(t *testing.T) {
		r2 := b.writeRelease(t, "r2026-04-C1", "C1", schemas.RecipientSelf)
		older := append(b.mint(t, r2.m.ID, "C1"), b.mint(t, r2.m.ID, "C1")...)
		other := b.mint(t, rel.m.ID, "C1") // of another release
		if _, err := b.svc.RevokeRelease(t.Context(), "C2", r2.m.ID); !errors.Is(err, sinks.ErrNotFound) {
			t.Errorf("RevokeRelease of C1's release by C2: %v, want sinks.ErrNotFound", err)
		}
		if _, ok := b.view.Revocation(r2.m.ID); ok {
			t.Fatal("C2 revoked C1's release")
		}
		rv, err := b.svc.RevokeRelease(t.Context(), "C1", r2.m.ID)
		if err != nil || rv.ReleaseID != r2.m.ID || rv.By != "customer" || rv.CustomerID != "C1" {
			t.Fatalf("RevokeRelease = %+v, %v", rv, err)
		}
		noDownload(t, func() {
			for _, l := range older {
				if r := b.refused(t, token(t, l), links.Revoked); !r.When.Equal(rv.At) {
					t.Errorf("%s revoked at %v, want %v", l.Path, r.When, rv.At)
				}
			}
		})
		fresh := b.mint(t, r2.m.ID, "C1")
		for _, l := range fresh {
			if body := b.follow(t, l); !bytes.Equal(body, r2.files[l.Path]) {
				t.Errorf("a link minted after the revocation gave %q", body)
			}
		}
		b.follow(t, other[0])
	})

	t.Run("a withdrawn grant refuses the links and new ones", func(t *testing.T) {
		b.consentEvent(t, "C3", schemas.RecipientSelf, schemas.ConsentGranted)
		r3 := b.writeRelease(t, "r2026-03-C3", "C3", schemas.RecipientSelf)
		ls := b.mint(t, r3.m.ID, "C3")
		b.follow(t, ls[0])
		n := len(b.downloadsOf(t, "C3"))
		b.consentEvent(t, "C3", schemas.RecipientSelf, schemas.ConsentRevoked)
		if r := b.refused(t, token(t, ls[1]), links.Withdrawn); !errors.Is(r, consent.ErrNoConsent) {
			t.Errorf("refused: %v, want it to wrap consent.ErrNoConsent", r.Err)
		}
		b.refused(t, token(t, ls[0]), links.Withdrawn)
		if got := b.downloadsOf(t, "C3"); len(got) != n {
			t.Errorf("a withdrawn link recorded a download: %d → %d", n, len(got))
		}
		b.sync(t, b.view)
		minted := len(b.view.Of("C3").Links)
		if ls, err := b.svc.Links(t.Context(), r3.m.ID, self("C3")); !errors.Is(err, consent.ErrNoConsent) || ls != nil {
			t.Errorf("Links after the withdrawal = %+v, %v; want consent.ErrNoConsent", ls, err)
		}
		b.sync(t, b.view)
		if got := len(b.view.Of("C3").Links); got != minted {
			t.Errorf("Links after the withdrawal minted %d links", got-minted)
		}
		// Another customer's grant is not touched.
		b.follow(t, b.mint(t, rel.m.ID, "C1")[0])
	})

	t.Run("a deleted release is gone from the store and its links say so", func(t *testing.T) {
		r4 := b.writeRelease(t, "r2026-05-C1", "C1", schemas.RecipientSelf)
		ls := b.mint(t, r4.m.ID, "C1")
		prefix := pipeline.Prefix(r4.m.ID)
		want := slices.Sorted(slices.Values(r4.keys))
		if got := b.list(t, prefix); !slices.Equal(got, want) {
			t.Fatalf("objects under %s: %v, want %v", prefix, got, want)
		}
		if _, err := b.svc.Delete(t.Context(), "C2", r4.m.ID); !errors.Is(err, sinks.ErrNotFound) {
			t.Errorf("Delete of C1's release by C2: %v, want sinks.ErrNotFound", err)
		}
		if got := b.list(t, prefix); !slices.Equal(got, want) {
			t.Fatalf("after C2's Delete, objects under %s: %v, want all %d", prefix, got, len(want))
		}
		if _, ok := b.view.Deletion(r4.m.ID); ok {
			t.Fatal("C2's Delete is on the view")
		}

		d, err := b.svc.Delete(t.Context(), "C1", r4.m.ID)
		if err != nil || d.ReleaseID != r4.m.ID || d.CustomerID != "C1" || d.Recipient != "self" || d.By != "customer" || d.Objects != len(want) {
			t.Fatalf("Delete = %+v, %v; want %d objects deleted", d, err, len(want))
		}
		if got := b.list(t, prefix); len(got) != 0 {
			t.Errorf("after Delete, objects under %s: %v, want none", prefix, got)
		}
		if got := b.list(t, pipeline.Prefix(rel.m.ID)); len(got) != len(rel.keys) {
			t.Errorf("Delete of %s touched %s: %v", r4.m.ID, rel.m.ID, got)
		}
		b.sync(t, b.view)
		on, ok := b.view.Deletion(r4.m.ID)
		if !ok || !sameDeletion(on, d) {
			t.Errorf("the deletion on the view: %+v, %v; want %+v", on, ok, d)
		}
		if ds := b.view.Of("C1").Deletions; len(ds) != 1 || !sameDeletion(ds[0], d) {
			t.Errorf("C1's deletions: %+v", ds)
		}
		noDownload(t, func() {
			for _, l := range ls {
				if r := b.refused(t, token(t, l), links.Deleted); !r.When.Equal(d.At) {
					t.Errorf("deleted at %v, want %v", r.When, d.At)
				}
			}
		})
		if ls, err := b.svc.Links(t.Context(), r4.m.ID, self("C1")); !errors.Is(err, sinks.ErrNotFound) || ls != nil {
			t.Errorf("Links of a deleted release = %+v, %v; want sinks.ErrNotFound", ls, err)
		}

		// Deleting again succeeds and changes nothing; another customer
		// still finds nothing.
		again, err := b.svc.Delete(t.Context(), "C1", r4.m.ID)
		if err != nil || !sameDeletion(again, d) {
			t.Errorf("Delete again = %+v, %v; want %+v", again, err, d)
		}
		b.sync(t, b.view)
		if on, _ := b.view.Deletion(r4.m.ID); !sameDeletion(on, d) {
			t.Errorf("after a second Delete the view has %+v, want %+v", on, d)
		}
		if _, err := b.svc.Delete(t.Context(), "C2", r4.m.ID); !errors.Is(err, sinks.ErrNotFound) {
			t.Errorf("Delete of C1's deleted release by C2: %v, want sinks.ErrNotFound", err)
		}
		if _, err := b.svc.Delete(t.Context(), "C1", "r-none"); !errors.Is(err, sinks.ErrNotFound) {
			t.Errorf("Delete of no release: %v, want sinks.ErrNotFound", err)
		}
	})
}

// sameDeletion reports whether a and b are the same deletion, at the same
// instant.
func sameDeletion(a, b activity.Deletion) bool {
	if !a.At.Equal(b.At) {
		return false
	}
	a.At, b.At = time.Time{}, time.Time{}
	return a == b
}

// readAll returns every record of topic up to the ends of its partitions
// now.
func readAll(t *testing.T, conn topics.Connection, topic string) []kafka.Message {
	t.Helper()
	ends, err := topics.Ends(t.Context(), conn, topic)
	if err != nil {
		t.Fatalf("Ends(%s): %v", topic, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var out []kafka.Message
	for p, end := range ends {
		if end == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: conn.Brokers, Topic: topic, Partition: p, MaxWait: 250 * time.Millisecond, Dialer: conn.Dialer()})
		for {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
			if m.Offset+1 >= end {
				break
			}
		}
		if err := r.Close(); err != nil {
			t.Errorf("close the reader of %s/%d: %v", topic, p, err)
		}
	}
	return out
}

// notifications reads the link.expiring events of topic.
func notifications(t *testing.T, conn topics.Connection, topic string) []notify.Event {
	t.Helper()
	var out []notify.Event
	for _, m := range readAll(t, conn, topic) {
		var e notify.Event
		if err := json.Unmarshal(m.Value, &e); err != nil {
			t.Fatalf("decode %s: %v", m.Value, err)
		}
		if string(m.Key) != e.CustomerID {
			t.Errorf("%s keyed %q, want its customer", e.ID, m.Key)
		}
		out = append(out, e)
	}
	return out
}

func TestSweepExpiringNotifiesEachLinkAboutToExpireOnce(t *testing.T) {
	b := newBench(t)
	topic := testbench.UniqueName(t, "notifications")
	if err := topics.Ensure(t.Context(), b.conn, notify.Spec(topic)); err != nil {
		t.Fatal(err)
	}
	n := notify.New(b.conn, topic, nil)
	t.Cleanup(func() { n.Close() })

	b.consentEvent(t, "C1", schemas.RecipientSelf, schemas.ConsentGranted)
	rel := b.writeRelease(t, "r2026-03-C1", "C1", schemas.RecipientSelf)
	if got, err := b.svc.SweepExpiring(t.Context(), 2*time.Hour); err != nil || got != 0 {
		t.Fatalf("SweepExpiring without a Notifier = %d, %v; want 0, nil", got, err)
	}
	b.svc.Notifier = n
	b.svc.TTL = time.Hour
	soon := b.mint(t, rel.m.ID, "C1") // expire within the window
	revoked := linkID(t, soon[1])
	if _, err := b.svc.RevokeLink(t.Context(), "C1", revoked); err != nil {
		t.Fatal(err)
	}
	b.svc.TTL = 48 * time.Hour
	later := b.mint(t, rel.m.ID, "C1") // expire after it
	b.svc.TTL = 0

	sent, err := b.svc.SweepExpiring(t.Context(), 2*time.Hour)
	if err != nil || sent != 1 {
		t.Fatalf("SweepExpiring = %d, %v; want 1 (one link expires within 2h and is not revoked)", sent, err)
	}
	events := notifications(t, b.conn, topic)
	want := linkID(t, soon[0])
	if len(events) != 1 || events[0].Type != notify.LinkExpiring || events[0].LinkID != want || events[0].CustomerID != "C1" ||
		events[0].ReleaseID != rel.m.ID || events[0].ExpiresAt == nil || !events[0].ExpiresAt.Equal(soon[0].ExpiresAt) {
		t.Fatalf("notifications: %+v; want one link.expiring of %s expiring %v", events, want, soon[0].ExpiresAt)
	}
	if l, _ := b.view.Link(want); !l.Notified || l.RevokedAt != nil || l.Object == "" {
		t.Errorf("the notified link on the view: %+v", l)
	}
	if l, _ := b.view.Link(revoked); l.RevokedAt == nil || l.Notified {
		t.Errorf("the revoked link on the view: %+v, want it still revoked and not notified", l)
	}
	b.follow(t, soon[0]) // marking it notified kept what it leads to
	b.refused(t, token(t, soon[1]), links.Revoked)

	// A second sweep sends nothing more.
	if sent, err := b.svc.SweepExpiring(t.Context(), 2*time.Hour); err != nil || sent != 0 {
		t.Errorf("a second SweepExpiring = %d, %v; want 0", sent, err)
	}
	if events := notifications(t, b.conn, topic); len(events) != 1 {
		t.Errorf("after a second sweep: %d notifications, want 1: %+v", len(events), events)
	}

	// The later ones are notified once they come within the window.
	b.svc.Now = func() time.Time { return time.Now().Add(47 * time.Hour) }
	if sent, err := b.svc.SweepExpiring(t.Context(), 2*time.Hour); err != nil || sent != len(later) {
		t.Errorf("SweepExpiring 47h later = %d, %v; want %d", sent, err, len(later))
	}
	b.svc.Now = nil
	got := map[string]int{}
	for _, e := range notifications(t, b.conn, topic) {
		got[e.LinkID]++
	}
	if len(got) != 1+len(later) || got[want] != 1 || got[revoked] != 0 || got[linkID(t, later[0])] != 1 || got[linkID(t, later[1])] != 1 {
		t.Errorf("notifications by link: %v; want one each of %s and the later links, none of the revoked %s", got, want, revoked)
	}
}

// Every instance of serve sweeps, each on its own view of the ledger, and
// a sweep writes each link it notifies back whole: one on a view that has
// not yet read a revocation made on another instance would write the link
// back unrevoked (and notify it). The sweep reads the ledger to its end
// first; without that a few revocations in a hundred were undone here.
func TestASweepOnAnotherInstanceDoesNotUndoARevocation(t *testing.T) {
	b := newBench(t)
	topic := testbench.UniqueName(t, "notifications")
	if err := topics.Ensure(t.Context(), b.conn, notify.Spec(topic)); err != nil {
		t.Fatal(err)
	}
	n := notify.New(b.conn, topic, nil)
	t.Cleanup(func() { n.Close() })
	b.consentEvent(t, "C1", schemas.RecipientSelf, schemas.ConsentGranted)
	rel := b.writeRelease(t, "r2026-03-C1", "C1", schemas.RecipientSelf)
	other := *b.svc // another instance: the same ledger, a view of its own
	other.View = b.openView(t)
	b.svc.Notifier, b.svc.TTL = n, time.Hour
	for range 50 {
		ls := b.mint(t, rel.m.ID, "C1") // expiring within the sweep's window
		b.sync(t, b.view)
		for _, l := range ls {
			if _, err := other.RevokeLink(t.Context(), "C1", linkID(t, l)); err != nil {
				t.Fatal(err)
			}
		}
		if sent, err := b.svc.SweepExpiring(t.Context(), 2*time.Hour); err != nil || sent != 0 {
			t.Fatalf("SweepExpiring right after the links were revoked elsewhere = %d, %v; want 0", sent, err)
		}
		b.sync(t, other.View)
		for _, l := range ls {
			if v, _ := other.View.Link(linkID(t, l)); v.RevokedAt == nil {
				t.Fatalf("the sweep undid the revocation of %s: %+v", v.ID, v)
			}
		}
	}
	if events := notifications(t, b.conn, topic); len(events) != 0 {
		t.Errorf("revoked links were notified: %+v", events)
	}
}
