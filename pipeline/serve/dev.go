package serve

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/config"
	"github.com/midata/midata/pipeline/partners"
	"github.com/midata/midata/pipeline/seed"
	"github.com/midata/midata/pipeline/signing"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/pipeline/webhook"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/synth"
	"github.com/midata/midata/sinks/filesink"
)

// The sample partner and customer of `midata dev`: a partner the data set
// grants to, and a customer with data.
const (
	DevPartner  = "pds-one"
	DevCustomer = "C000001"
)

// DevConfig is everything `midata dev` needs.
type DevConfig struct {
	// Service is the configuration of the service dev runs (links.ttl,
	// timezone, workers, …); dev sets its Kafka, topics, store, signing
	// key, tokens, partner and schedule itself.
	Service    config.Config
	Addr       string // where the service listens
	DataDir    string // the local store, keys, tokens and state
	KafkaPort  int    // the in-process broker's port; 0 = any free port
	Partitions int    // of the transactions topic
	Synth      synth.Config
	Logger     *slog.Logger
	// Progress, when set, gets one line per step ("midata dev: …") and the
	// runner's progress.
	Progress io.Writer
}

// Dev is the embedded default, all in one process: an in-process Kafka
// broker seeded with the synthetic data set, and the whole of `midata
// serve` on it (worker, scheduler with a sample schedule, API, partner
// delivery to a local folder with a built-in webhook receiver), with a
// local-disk store whose HMAC-signed files it serves itself. Make it with
// NewDev, make the sample release with Release, run it with Serve, and
// Close it when done.
type Dev struct {
	cfg      DevConfig
	progress io.Writer
	cluster  *kfake.Cluster
	svc      *Service
	base     string // http://<addr>
	Tokens   DevTokens
	Hooks    *DevReceiver
}

// DevTokens are the bearer tokens dev prints: one per role.
type DevTokens struct{ Ops, Customer, Partner string }

// NewDev starts the broker, seeds it and builds the service on it. An
// error of the data set's settings matches config.ErrInvalid.
func NewDev(ctx context.Context, cfg DevConfig) (d *Dev, err error) {
	if err := cfg.Synth.Validate(); err != nil {
		return nil, invalid{err}
	}
	d = &Dev{cfg: cfg, progress: cfg.Progress}
	if d.progress == nil {
		d.progress = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}

	// Kafka: an in-process broker with the topics of the input contract.
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if cfg.KafkaPort != 0 {
		opts = append(opts, kfake.Ports(cfg.KafkaPort))
	}
	if d.cluster, err = kfake.NewCluster(opts...); err != nil {
		return nil, fmt.Errorf("start in-process Kafka: %w", err)
	}
	brokers, gen := d.cluster.ListenAddrs(), cfg.Synth
	kafka := topics.Connection{Brokers: brokers}
	if err := topics.Ensure(ctx, kafka, topics.TransactionsSpec(gen.TransactionsTopic, cfg.Partitions), topics.ConsentSpec(gen.ConsentTopic)); err != nil {
		return nil, err
	}
	fmt.Fprintf(d.progress, "midata dev: in-process Kafka on %s; seeding %d transactions of %d customers …\n", strings.Join(brokers, ","), gen.Transactions, gen.Customers)
	start := time.Now()
	counts, err := seed.Produce(ctx, kafka, gen, nil)
	if err != nil {
		return nil, fmt.Errorf("seed synthetic data: %w", err)
	}
	fmt.Fprintf(d.progress, "midata dev: seeded %s in %s\n", counts, time.Since(start).Round(time.Millisecond))

	listener, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (choose another with --http-addr)", cfg.Addr, err)
	}
	d.base = "http://" + listener.Addr().String()
	secret, err := devSecret(filepath.Join(cfg.DataDir, "link.key"), 32)
	if err != nil {
		listener.Close()
		return nil, err
	}
	root := filepath.Join(cfg.DataDir, "store")
	sink, err := filesink.New(filesink.Config{Root: root, BaseURL: d.base, Secret: secret})
	if err != nil {
		listener.Close()
		return nil, err
	}
	sc, err := d.serviceConfig(brokers)
	if err != nil {
		listener.Close()
		return nil, err
	}
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(d.whsec(), webhook.SecretPrefix))
	d.Hooks = &DevReceiver{key: key, progress: d.progress}
	check := func(context.Context) error { _, err := os.Stat(root); return err }
	d.svc, err = New(ctx, sc, cfg.Logger,
		WithStore(sink, check, func(key string) string { return filepath.Join(root, filepath.FromSlash(key)) }),
		WithListener(listener), WithHandler("/files/", sink.Handler()), WithHandler("/dev/webhooks/"+DevPartner, d.Hooks),
		WithDevTokens(map[string]string{"ops": d.Tokens.Ops, "customer:" + DevCustomer: d.Tokens.Customer, "partner:" + DevPartner: d.Tokens.Partner}))
	if err != nil {
		return nil, err
	}
	return d, nil
}

// serviceConfig is the configuration of the service dev runs.
func (d *Dev) serviceConfig(brokers []string) (config.Config, error) {
	sc, dir, gen := d.cfg.Service, d.cfg.DataDir, d.cfg.Synth
	sc.Kafka.Brokers = brokers
	sc.Topics.Transactions, sc.Topics.Consent = gen.TransactionsTopic, gen.ConsentTopic
	sc.StateDir = filepath.Join(dir, "state")
	sc.Scheduler.Enabled = true
	// The signing key: made once, kept in the data folder.
	sc.Signing.KeyFile = filepath.Join(dir, "signing.key")
	if _, err := os.Stat(sc.Signing.KeyFile); os.IsNotExist(err) {
		if _, err := signing.Generate(dir); err != nil {
			return sc, fmt.Errorf("signing key: %w", err)
		}
	}
	// A token per role, kept across restarts.
	tokens := filepath.Join(dir, "tokens")
	b, err := os.ReadFile(tokens)
	if err != nil {
		tok := func() string { k := make([]byte, 16); rand.Read(k); return hex.EncodeToString(k) }
		b = fmt.Appendf(nil, "%s=ops\n%s=customer:%s\n%s=partner:%s\n", tok(), tok(), DevCustomer, tok(), DevPartner)
		if err := os.WriteFile(tokens, b, 0o600); err != nil {
			return sc, fmt.Errorf("tokens: %w", err)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		tok, role, _ := strings.Cut(line, "=")
		switch {
		case role == "ops":
			d.Tokens.Ops = tok
		case strings.HasPrefix(role, "customer:"):
			d.Tokens.Customer = tok
		case strings.HasPrefix(role, "partner:"):
			d.Tokens.Partner = tok
		}
	}
	sc.Auth.TokensFile = tokens
	// The sample partner: its bundles in the local store, its webhook the
	// receiver dev serves itself.
	secretFile := filepath.Join(dir, "webhook.secret")
	if _, err := devSecret(secretFile, 0); err != nil {
		return sc, err
	}
	sc.Partners = []partners.Partner{{ID: DevPartner, Name: "PDS One (sample)", Prefix: "partners/" + DevPartner + "/",
		WebhookURL: d.base + "/dev/webhooks/" + DevPartner, WebhookSecretFile: secretFile, WebhookAttempts: 3}}
	sc.Schedules = []config.Schedule{{ID: "sample-monthly", Spec: "CRON_TZ=" + sc.Location().String() + " 0 6 1 * *", Recipient: schemas.RecipientSelf,
		Scope: schemas.Scope{Customers: []string{DevCustomer}}, Period: "previous_month", Formats: []string{"midata-csv", "html"}}}
	return sc, nil
}

func (d *Dev) whsec() string {
	b, _ := os.ReadFile(filepath.Join(d.cfg.DataDir, "webhook.secret"))
	return strings.TrimSpace(string(b))
}

// SignInLink is the link that signs role in to the pages ("ops",
// "customer:C000001", "partner:pds-one").
func (d *Dev) SignInLink(role string) string { return d.svc.web.DevSignInLink(d.base, role) }

// Base is the service's address, http://host:port.
func (d *Dev) Base() string { return d.base }

// Release makes the on-demand release req for its customer, recorded
// first as the customer's own consent event, as every on-demand request
// is; its links are the stable links customers get.
func (d *Dev) Release(ctx context.Context, req pipeline.Request) (*pipeline.Result, error) {
	if _, err := d.svc.recorder.RecordRequest(ctx, string(req.CustomerID), req.From, req.To); err != nil {
		return nil, err
	}
	res, err := d.svc.runner.Release(ctx, req)
	if err != nil || res.ReleaseID == "" || d.svc.downloads == nil {
		return res, err
	}
	links, err := d.svc.downloads.Links(ctx, res.ReleaseID, pipeline.Owner{CustomerID: string(req.CustomerID), Recipient: req.Recipient})
	if err != nil {
		return res, err
	}
	for i := range links {
		links[i].URL = d.base + links[i].URL
	}
	res.Links = links
	return res, nil
}

// Serve runs the service until ctx ends.
func (d *Dev) Serve(ctx context.Context) error { return d.svc.Run(ctx) }

// Close stops the service and the broker.
func (d *Dev) Close() {
	if d.svc != nil {
		d.svc.Close()
	}
	if d.cluster != nil {
		d.cluster.Close()
	}
}

// DevReceiver is the sample partner's webhook receiver: it checks each
// message's Standard Webhooks signature, prints it, and lists the last
// ones on GET.
type DevReceiver struct {
	key      []byte
	progress io.Writer
	mu       sync.Mutex
	got      []json.RawMessage
}

func (rc *DevReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"messages": rc.got})
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	var sec int64
	fmt.Sscan(ts, &sec)
	if !strings.Contains(r.Header.Get("webhook-signature"), webhook.Sign(rc.key, id, sec, body)) || !json.Valid(body) {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var m struct {
		Type string `json:"type"`
	}
	json.Unmarshal(body, &m)
	fmt.Fprintf(rc.progress, "midata dev: the sample partner's webhook got %s (%s)\n", m.Type, id)
	rc.mu.Lock()
	rc.got = append(rc.got, body)
	if len(rc.got) > 100 {
		rc.got = rc.got[1:]
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// Messages returns the messages received, oldest first.
func (rc *DevReceiver) Messages() []json.RawMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]json.RawMessage(nil), rc.got...)
}

// devSecret returns the secret kept at path, making it when missing: n
// random bytes (link keys), or a whsec_ webhook secret when n is 0.
func devSecret(path string, n int) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	key := make([]byte, max(n, 32))
	rand.Read(key)
	if n == 0 {
		key = []byte(webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key) + "\n")
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return key, nil
}
