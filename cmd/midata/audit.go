package main

import (
	"context"
	"io"
	"net/url"

	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas"
)

const auditSynopsis = `audit --customer ID [--format json|csv]

The audit answer for one customer, through the API of midata serve (role
ops), from the ledger alone: every release made about them (each run that
concerned them, whatever its outcome), to whom, under which consent (id,
actor, categories, window), the period, the files with their SHA-256,
deliveries to partners, download links (ids and times, never the links),
downloads, revocations, deletions and recalls.
  --format json   the API's JSON (the default)
  --format csv    one row per release and file, the columns of
                  GET /v1/audit/customers/{id} in /openapi.json`

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit", auditSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandAudit, fs)
	var customer, format string
	customerFlag(fs, &customer, "", "the customer to audit")
	fs.StringVar(&format, "format", "json", "json, or csv: one row per release and file")
	c, pos, err := parseClient(cl, args, stdout)
	if err != nil || c == nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("audit: unexpected argument %q", pos[0])
	case customer == "":
		return usagef("audit: name the customer: --customer ID")
	case format != "json" && format != "csv":
		return usagef("audit: --format %q: want json or csv", format)
	}
	if err := schemas.CustomerID(customer).Validate(); err != nil {
		return usagef("audit: --customer: %v", err)
	}
	return c.do(ctx, "GET", "/v1/audit/customers/"+url.PathEscape(customer)+"?"+url.Values{"format": {format}}.Encode(), nil, stdout)
}
