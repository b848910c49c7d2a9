package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
)

// Request asks for one customer's release to one recipient.
type Request struct {
	// ID, when set, is the idempotency key of a request handled by the
	// workers (the jobs' request id): the release id then derives from it
	// and the customer, and the snapshot is planned once per request and
	// kept in the store, so handling the request twice, on two machines or
	// after a crash, makes one release with the same bytes.
	ID         string
	CustomerID schemas.CustomerID // the customer whose records are released
	Recipient  schemas.Recipient  // "self" or "partner:<id>"
	From, To   time.Time          // the period [From, To) on booked_at
	Formats    []string           // format names, e.g. "midata-csv", "ndjson"
}

// ErrInvalidRequest is wrapped by every error of Request.Validate and
// Bulk.Validate: the request can never succeed as it is, so it is not
// retried.
var ErrInvalidRequest = errors.New("invalid request")

// Validate checks the request and returns the formats it names, in the
// order given, without duplicates.
func (r Request) Validate() ([]release.Format, error) {
	var errs []error
	if err := r.CustomerID.Validate(); err != nil {
		errs = append(errs, err)
	}
	return validate(errs, r.Recipient, r.From, r.To, r.Formats)
}

// Validate checks the bulk request as Request.Validate checks one
// customer's (recipient, period, formats) and returns its formats.
func (b Bulk) Validate() ([]release.Format, error) {
	return validate(nil, b.Recipient, b.From, b.To, b.Formats)
}

// validate adds the checks that every request shares to errs (the problems
// found already) and returns the formats named, in the order given, without
// duplicates, or every problem at once, wrapping ErrInvalidRequest.
func validate(errs []error, recipient schemas.Recipient, from, to time.Time, names []string) ([]release.Format, error) {
	if err := recipient.Validate(); err != nil {
		errs = append(errs, err)
	}
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		errs = append(errs, fmt.Errorf("period [%s, %s): want from before to", day(from), day(to)))
	}
	if len(names) == 0 {
		errs = append(errs, fmt.Errorf("no format: want one or more of %s", strings.Join(release.Names(), ", ")))
	}
	var formats []release.Format
	for _, name := range names {
		f, err := release.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.Name == release.Summary.Name && !recipient.IsSelf() {
			errs = append(errs, fmt.Errorf("format %q is a summary for the customer: only for recipient self", f.Name))
			continue
		}
		if !slices.ContainsFunc(formats, func(g release.Format) bool { return g.Name == f.Name }) {
			formats = append(formats, f)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	return formats, nil
}

func day(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.UTC().Format(time.RFC3339)
}

// releaseID derives the release id from everything that decides its bytes:
// the request, the format versions, the frozen snapshot and the consent
// state used. The same request over the same snapshot and consent gives the
// same id, so a re-run finds the committed release instead of making a second.
func releaseID(r Request, formats []release.Format, snap kafkasource.Snapshot, consentHash string) string {
	names := make([]string, 0, len(formats))
	for _, f := range formats {
		names = append(names, f.Name+"@"+strconv.Itoa(f.Version))
	}
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "midata-release-v1\ncustomer=%s\nrecipient=%s\nfrom=%s\nto=%s\nformats=%s\nconsent=%s\ntopic=%s\npartitioner=%s\n",
		r.CustomerID, r.Recipient, r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano),
		strings.Join(names, ","), consentHash, snap.Topic, snap.Partitioner)
	for _, rg := range snap.Ranges {
		fmt.Fprintf(&b, "partition=%d:%d-%d\n", rg.Partition, rg.Start, rg.End)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "r" + r.From.UTC().Format("20060102") + "-" + hex.EncodeToString(sum[:12])
}

// requestReleaseID is the release id of one customer's release for a
// request with an idempotency key, under the consent state consentHash:
// handled twice under the same consent, a request makes one release; two
// writers under different consent states never write to the same files.
func requestReleaseID(r Request, formats []release.Format, consentHash string) string {
	names := make([]string, 0, len(formats))
	for _, f := range formats {
		names = append(names, f.Name+"@"+strconv.Itoa(f.Version))
	}
	slices.Sort(names)
	sum := sha256.Sum256([]byte(strings.Join([]string{"midata-request-release-v1", r.ID, string(r.CustomerID), string(r.Recipient),
		r.From.UTC().Format(time.RFC3339Nano), r.To.UTC().Format(time.RFC3339Nano), strings.Join(names, ","), consentHash}, "\n")))
	return "r" + r.From.UTC().Format("20060102") + "-" + hex.EncodeToString(sum[:12])
}

// legalBasis names the GDPR article a release is made under: access (15)
// for the customer themself, portability (20) for a partner.
func legalBasis(recipient schemas.Recipient) string {
	if recipient.IsSelf() {
		return "GDPR art. 15 (right of access)"
	}
	return "GDPR art. 20 (right to data portability)"
}
