package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/midata/midata/pipeline/api"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/schemas"
)

// client calls the HTTP API of a running `midata serve` for the ops CLI
// (`midata runs …`, `midata schedule …`): the same routes, roles and
// errors as the API.
type client struct {
	server, token string
	http          *http.Client
}

// newClient returns the client of the API that cfg's client keys name.
func newClient(cfg config.Client) *client {
	return &client{server: cfg.Server, token: cfg.Token, http: &http.Client{Timeout: time.Minute}}
}

// parseClient parses the flags of an ops CLI command (runs, schedule),
// before and after its positional arguments, and loads its configuration.
// It returns the positional arguments and a nil client when --print-config
// was given and the configuration is printed.
func parseClient(cl *config.CommandLine, args []string, stdout io.Writer) (*client, []string, error) {
	pos, err := parseInterspersed(cl, args)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadConfig(cl)
	if err != nil {
		return nil, nil, err
	}
	if cl.PrintConfig() {
		return nil, nil, cfg.Print(stdout, cl.Command())
	}
	if cfg.Client.TokenFile != "" {
		b, err := os.ReadFile(cfg.Client.TokenFile)
		if err != nil {
			return nil, nil, usagef("client.token_file: %v", err)
		}
		cfg.Client.Token, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
	}
	return newClient(cfg.Client), pos, nil
}

// do sends one request and copies the JSON answer to out; a non-2xx answer
// is an error carrying the API's one-line message.
func (c *client) do(ctx context.Context, method, path string, body any, out io.Writer) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.server, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is midata serve running at %s?)", method, path, err, c.server)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e api.ErrorBody
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if len(b) == 0 {
		return nil
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, b, "", "  ") != nil {
		_, err = out.Write(b)
		return err
	}
	pretty.WriteByte('\n')
	_, err = out.Write(pretty.Bytes())
	return err
}

const runsSynopsis = `runs <list|get|releases|cancel|retry|start|deliveries> [flags] [ID]

Watches and steers runs through the API of midata serve (role ops):
  list     [--status S,…] [--schedule ID] [--customer ID] [--recipient R] [--limit N]
  get      ID [--watch]   (--watch: progress on stderr until the run ends)
  releases ID [--after CUSTOMER] [--limit N]   one page of the run's releases, by customer
           (the answer's "next" is the --after of the next page)
  cancel   ID        stop a run; nothing partial is published
  retry    ID        run a failed or cancelled run again (same release ids)
  start    --recipient R (--customers C,… | --all) --from DATE --to DATE [--format LIST] [--key K]
  deliveries [--partner ID] [--status started|ready|delivered|failed] [--limit N]
           partner deliveries and their webhook outcomes, the latest first
           (a failed one is delivered again by retrying its run)
The answer is the API's JSON on stdout.`

func runRuns(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("runs", runsSynopsis, stderr)
		if err := parseFlags(config.NewCommandLine(config.CommandRuns, fs), args); err != nil {
			return err
		}
		return usagef("runs: name a subcommand: list, get, releases, cancel, retry, start or deliveries")
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("runs "+sub, runsSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandRuns, fs)
	var status, scheduleID, customer, recipient, customers, formats, from, to, key, after, partner string
	var limit int
	var bulk, watch bool
	switch sub {
	case "list":
		fs.StringVar(&status, "status", "", "statuses, comma-separated")
		fs.StringVar(&scheduleID, "schedule", "", "runs of this schedule")
		customerFlag(fs, &customer, "", "runs that concern this customer")
		recipientFlag(fs, &recipient, "")
		fs.IntVar(&limit, "limit", 50, "at most this many, newest first")
	case "start":
		recipientFlag(fs, &recipient, "self")
		customersFlag(fs, &customers)
		allFlag(fs, &bulk)
		periodFlags(fs, &from, &to, "", "", "")
		formatFlag(fs, &formats)
		fs.StringVar(&key, "key", "", "idempotency key: the same key gives the same run")
	case "get":
		fs.BoolVar(&watch, "watch", false, "poll until the run ends, printing its progress on stderr")
	case "releases":
		fs.StringVar(&after, "after", "", "start after this customer id (the previous page's next)")
		fs.IntVar(&limit, "limit", 50, "at most this many, by customer id")
	case "deliveries":
		fs.StringVar(&partner, "partner", "", "deliveries to this partner")
		fs.StringVar(&status, "status", "", "started, ready, delivered or failed")
		fs.IntVar(&limit, "limit", 100, "at most this many, the latest first")
	case "cancel", "retry":
	default:
		return usagef("runs: unknown subcommand %q (want list, get, releases, cancel, retry, start or deliveries)", sub)
	}
	c, ids, err := parseClient(cl, rest, stdout)
	if err != nil || c == nil {
		return err
	}
	switch sub {
	case "list":
		q := url.Values{}
		for k, v := range map[string]string{"status": status, "schedule": scheduleID, "customer": customer, "recipient": recipient} {
			if v != "" {
				q.Set(k, v)
			}
		}
		q.Set("limit", fmt.Sprint(limit))
		return c.do(ctx, "GET", "/v1/runs?"+q.Encode(), nil, stdout)
	case "start":
		body := api.ReleaseRequest{Recipient: schemas.Recipient(recipient), All: bulk, From: from, To: to,
			Formats: splitList(formats), IdempotencyKey: key}
		if !bulk {
			body.Customers = splitList(customers)
		}
		return c.do(ctx, "POST", "/v1/releases", body, stdout)
	case "deliveries":
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		for k, v := range map[string]string{"partner": partner, "status": status} {
			if v != "" {
				q.Set(k, v)
			}
		}
		return c.do(ctx, "GET", "/v1/deliveries?"+q.Encode(), nil, stdout)
	}
	if len(ids) != 1 {
		return usagef("runs %s: name one run id", sub)
	}
	id := url.PathEscape(ids[0])
	if sub == "get" && watch {
		return c.watch(ctx, id, stdout, stderr)
	}
	if sub == "get" {
		return c.do(ctx, "GET", "/v1/runs/"+id, nil, stdout)
	}
	if sub == "releases" {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if after != "" {
			q.Set("after", after)
		}
		return c.do(ctx, "GET", "/v1/runs/"+id+"/releases?"+q.Encode(), nil, stdout)
	}
	return c.do(ctx, "POST", "/v1/runs/"+id+"/"+sub, nil, stdout)
}

const scheduleSynopsis = `schedule <list|get|create|delete|pause|resume|run> [flags] [ID]

Manages cron schedules through the API of midata serve (role ops):
  list
  get      ID
  create   --id ID --cron SPEC --recipient R (--customers C,… | --all) --period P [--format LIST]
           (cron: 5 fields, optional seconds, CRON_TZ=Europe/London, @monthly;
            period: previous_day, previous_week, previous_month, previous_year, last:<duration>)
  delete   ID
  pause    ID
  resume   ID
  run      ID        fire it now
The answer is the API's JSON on stdout.`

func runSchedule(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("schedule", scheduleSynopsis, stderr)
		if err := parseFlags(config.NewCommandLine(config.CommandSchedule, fs), args); err != nil {
			return err
		}
		return usagef("schedule: name a subcommand: list, get, create, delete, pause, resume or run")
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet("schedule "+sub, scheduleSynopsis, stderr)
	cl := config.NewCommandLine(config.CommandSchedule, fs)
	var id, spec, recipient, customers, period, formats string
	var bulk bool
	switch sub {
	case "create":
		fs.StringVar(&id, "id", "", "schedule id")
		fs.StringVar(&spec, "cron", "", "cron spec")
		recipientFlag(fs, &recipient, "self")
		customersFlag(fs, &customers)
		allFlag(fs, &bulk)
		fs.StringVar(&period, "period", "previous_month", "what each firing releases")
		formatFlag(fs, &formats)
	case "list", "get", "delete", "pause", "resume", "run":
	default:
		return usagef("schedule: unknown subcommand %q", sub)
	}
	c, ids, err := parseClient(cl, rest, stdout)
	if err != nil || c == nil {
		return err
	}
	switch sub {
	case "list":
		return c.do(ctx, "GET", "/v1/schedules", nil, stdout)
	case "create":
		body := api.ScheduleRequest{ID: id, Cron: spec, Recipient: schemas.Recipient(recipient), All: bulk,
			Period: period, Formats: splitList(formats)}
		if !bulk {
			body.Customers = splitList(customers)
		}
		return c.do(ctx, "POST", "/v1/schedules", body, stdout)
	}
	if len(ids) != 1 {
		return usagef("schedule %s: name one schedule id", sub)
	}
	path := "/v1/schedules/" + url.PathEscape(ids[0])
	switch sub {
	case "get":
		return c.do(ctx, "GET", path, nil, stdout)
	case "delete":
		return c.do(ctx, "DELETE", path, nil, stdout)
	}
	return c.do(ctx, "POST", path+"/"+sub, nil, stdout)
}

// parseInterspersed parses flags before and after positional arguments
// ("runs get ID --server URL") and returns the positional ones.
func parseInterspersed(cl *config.CommandLine, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(cl, args); err != nil {
			return nil, err
		}
		fs := cl.FlagSet()
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// watch polls a run every two seconds, printing its progress on stderr,
// until it ends; then it prints the run.
func (c *client) watch(ctx context.Context, id string, stdout, stderr io.Writer) error {
	for {
		var buf bytes.Buffer
		if err := c.do(ctx, "GET", "/v1/runs/"+id, nil, &buf); err != nil {
			return err
		}
		var run api.RunView
		if err := json.Unmarshal(buf.Bytes(), &run); err != nil {
			return fmt.Errorf("run %s: %w", id, err)
		}
		p := run.Progress
		fmt.Fprintf(stderr, "midata: run %s %s: %d of %d records scanned, %d of %d customers done, %d releases (%d committed)\n",
			id, run.Status, p.RecordsScanned, p.RecordsToScan, p.CustomersDone, p.Customers, run.Counts.Releases, run.Counts.Committed)
		if run.Status.Final() {
			_, err := stdout.Write(buf.Bytes())
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}
