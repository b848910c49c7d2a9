package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/midata/midata/pipeline/bycustomer"
	"github.com/midata/midata/pipeline/consent"
	"github.com/midata/midata/pipeline/kafkasource"
	"github.com/midata/midata/pipeline/progress"
	"github.com/midata/midata/pipeline/releasestore"
	"github.com/midata/midata/pipeline/spill"
	"github.com/midata/midata/pipeline/topics"
	"github.com/midata/midata/schemas"
	"github.com/midata/midata/schemas/release"
	"github.com/midata/midata/sinks"
)

// Defaults of Config.
const (
	DefaultSpillRecords = 50_000
	DefaultCommitDepth  = 16
	DefaultCommitBuffer = 2_048
)

// Config wires a Runner. Source, Grants, Producer and Sink are required.
type Config struct {
	Source   Source      // the transactions topic
	Grants   Grants      // the consent view, shared by every release
	Producer Quarantiner // quarantine writes
	Sink     sinks.Sink  // where releases are stored

	QuarantineTopic string        // default topics.DefaultQuarantine
	LinkTTL         time.Duration // signed link lifetime; default sinks.MaxLinkTTL (7 days)
	TempDir         string        // where sorting spills; default os.TempDir()
	SpillRecords    int           // at most this many records per sort run, which holds at most spill.DefaultMaxBytes anyway; default 50,000
	Now             func() time.Time
	Logger          *slog.Logger
	// Progress, when set, receives a line of human progress about every
	// ProgressEvery during long reads (the CLI passes stderr).
	Progress      io.Writer
	ProgressEvery time.Duration // default 2s
	// Locate turns an object key into the location reported to users
	// (s3://bucket/key, a file path); default: the key itself.
	Locate func(key string) string
	// Observe, when set, sees the result of every release made or found
	// (metrics).
	Observe func(*Result)
	// CommitDepth is how many customers' releases of a bulk task are staged
	// and committed at once; default 16.
	CommitDepth int
	// CommitBuffer is how many records of one customer (per row order) a
	// bulk task holds in memory for a release waiting for its turn; a
	// customer with more streams from the sorted runs instead. Default
	// 2,048.
	CommitBuffer int
}

// Runner runs releases. It is safe for concurrent use by several goroutines.
type Runner struct {
	cfg Config
	// wrapSorted, set only by tests, wraps the sorted stream a bulk task
	// splits by customer (to make it fail); nil: the spill's iterator.
	wrapSorted func(bycustomer.Stream) bycustomer.Stream
}

// NewRunner checks cfg, fills its defaults and returns a Runner.
func NewRunner(cfg Config) (*Runner, error) {
	if cfg.Source == nil || cfg.Grants == nil || cfg.Producer == nil || cfg.Sink == nil {
		return nil, errors.New("new runner: Source, Grants, Producer and Sink are required")
	}
	if cfg.QuarantineTopic == "" {
		cfg.QuarantineTopic = topics.DefaultQuarantine
	}
	if cfg.LinkTTL == 0 {
		cfg.LinkTTL = sinks.MaxLinkTTL
	}
	if err := sinks.CheckLinkTTL(cfg.LinkTTL); err != nil {
		return nil, fmt.Errorf("new runner: link TTL %s: %w", cfg.LinkTTL, err)
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.SpillRecords <= 0 {
		cfg.SpillRecords = DefaultSpillRecords
	}
	if cfg.CommitDepth <= 0 {
		cfg.CommitDepth = DefaultCommitDepth
	}
	if cfg.CommitBuffer <= 0 {
		cfg.CommitBuffer = DefaultCommitBuffer
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 2 * time.Second
	}
	if cfg.Locate == nil {
		cfg.Locate = func(key string) string { return key }
	}
	return &Runner{cfg: cfg}, nil
}

// Prefix is where the objects of a release live (releasestore has the
// layout).
func Prefix(releaseID string) string { return releasestore.Prefix(releaseID) }

// Release makes one customer's release: plan, read, filter, encode, stage,
// re-check consent, commit the manifest, sign links. Outcomes (committed,
// empty, no consent, already committed, cancelled) are a Result; an error
// means the release could not be made and nothing was committed.
func (r *Runner) Release(ctx context.Context, req Request) (*Result, error) {
	res, err := r.run(ctx, req)
	r.observe(res)
	return res, err
}

func (r *Runner) observe(res *Result) {
	if res != nil && r.cfg.Observe != nil {
		r.cfg.Observe(res)
	}
}

func (r *Runner) run(ctx context.Context, req Request) (*Result, error) {
	formats, err := req.Validate()
	if err != nil {
		return nil, err
	}
	now := r.cfg.Now().UTC()

	// Plan: consent at plan time, then the frozen snapshot.
	if err := r.syncConsent(ctx); err != nil {
		return nil, err
	}
	grant, err := r.cfg.Grants.Grant(string(req.CustomerID), req.Recipient, now)
	if errors.Is(err, consent.ErrNoConsent) {
		return &Result{CustomerID: string(req.CustomerID), Status: release.StatusNoConsent, Reason: err.Error(), Files: []File{}, Links: []Link{}, Stats: release.Counts{Excluded: map[string]int64{}}}, nil
	}
	if err != nil {
		return nil, err
	}
	var snap kafkasource.Snapshot
	var id string
	if req.ID == "" {
		if snap, err = r.cfg.Source.Plan(ctx, string(req.CustomerID), req.From); err != nil {
			return nil, fmt.Errorf("plan release: %w", err)
		}
		id = releaseID(req, formats, snap, grant.Hash())
	} else {
		snap, err = r.planOnce(ctx, planKey(req.ID, string(req.CustomerID)), func(ctx context.Context) (kafkasource.Snapshot, error) {
			return r.cfg.Source.Plan(ctx, string(req.CustomerID), req.From)
		})
		if err != nil {
			return nil, err
		}
		id = requestReleaseID(req, formats, grant.Hash())
	}
	log := r.cfg.Logger.With("release_id", id, "customer_id", req.CustomerID, "recipient", req.Recipient)
	log.Info("release planned", "partitions", len(snap.Ranges), "records", snap.Records(), "pruned", snap.Pruned)

	if m, err := r.committed(ctx, id); err != nil {
		return nil, err
	} else if m != nil {
		log.Info("release already committed")
		return r.resultOf(ctx, m, release.StatusAlreadyCommitted, true, &grant)
	}

	// Read and filter, spilling into one sorter per row order.
	filter := &consent.Filter{CustomerID: string(req.CustomerID), From: req.From, To: req.To, Grant: grant}
	sorters := map[release.Order]*spill.Sorter{}
	for _, f := range formats {
		if sorters[f.Order] == nil {
			sorters[f.Order] = spill.New(r.cfg.TempDir, lessFor(f.Order), r.cfg.SpillRecords)
		}
	}
	defer func() {
		for _, s := range sorters {
			s.Close()
		}
	}()
	stats := release.Counts{Excluded: map[string]int64{}}
	if err := r.read(ctx, snap, filter, formats, sorters, &stats); err != nil {
		return nil, err
	}

	// Encode, stage, re-check consent, commit.
	sources := map[release.Order]records{}
	for order, sorter := range sorters {
		it, err := sorter.Sort()
		if err != nil {
			return nil, fmt.Errorf("sort records: %w", err)
		}
		defer it.Close()
		sources[order] = it
	}
	c := &customerRelease{id: id, req: req, formats: formats, grant: grant, snap: snap, stats: stats, now: now}
	return r.complete(ctx, c, sources, func(ctx context.Context) (string, error) { return r.recheck(ctx, req, grant) })
}

// NotRepresentable is the exclusion reason of a valid record that a
// requested format cannot hold: it is left out of every file of the
// release, so all formats hold the same rows. Since parquet 2 and json 2 no
// format refuses a valid record (an amount beyond DECIMAL(18,5) was one);
// the reason stays for a format that would.
const NotRepresentable = "not_representable"

// fits returns NotRepresentable when a format of the release cannot hold t.
func fits(formats []release.Format, t *schemas.Transaction, granted schemas.Category) string {
	for _, f := range formats {
		if f.Fits != nil && f.Fits(t, granted) != nil {
			return NotRepresentable
		}
	}
	return ""
}

func lessFor(o release.Order) func(a, b *schemas.Transaction) bool {
	if o == release.NewestFirst {
		return func(a, b *schemas.Transaction) bool { return release.Less(b, a) }
	}
	return release.Less
}

// syncConsent brings the consent view to the topic's current end: one
// offsets request and the events written since the last Sync.
func (r *Runner) syncConsent(ctx context.Context) error {
	if err := r.cfg.Grants.Sync(ctx); err != nil {
		return fmt.Errorf("sync consent: %w", err)
	}
	return nil
}

// quarantine keeps an invalid record with its reason. The log says where it
// is and which field was wrong, never the value.
func (r *Runner) quarantine(ctx context.Context, topic string, m topics.Message, cause error) error {
	if err := r.cfg.Producer.Quarantine(ctx, r.cfg.QuarantineTopic, m, topic, cause.Error()); err != nil {
		return fmt.Errorf("quarantine %s/%d/%d: %w", topic, m.Partition, m.Offset, err)
	}
	field := "value"
	var invalid *schemas.InvalidError
	if errors.As(cause, &invalid) {
		field = invalid.Field
	}
	r.cfg.Logger.Warn("record quarantined", "topic", topic, "partition", m.Partition, "offset", m.Offset, "field", field)
	return nil
}

// read streams the snapshot through the filter into the sorters.
func (r *Runner) read(ctx context.Context, snap kafkasource.Snapshot, filter *consent.Filter, formats []release.Format, sorters map[release.Order]*spill.Sorter, stats *release.Counts) error {
	total := snap.Records()
	prog := progress.New(r.cfg.Progress, r.cfg.ProgressEvery, total)
	topic := snap.Topic
	err := r.cfg.Source.Read(ctx, snap, func(m topics.Message) error {
		stats.Scanned++
		prog.Tick(stats)
		if string(m.Key) != filter.CustomerID {
			// Another customer's record (the key is the customer id): not
			// in scope, so neither decoded nor quarantined here; its own
			// customer's releases do that.
			stats.Excluded[string(consent.OtherCustomer)]++
			return nil
		}
		t, err := schemas.DecodeTransaction(m.Key, m.Value)
		if err != nil {
			stats.Quarantined++
			return r.quarantine(ctx, topic, m, err)
		}
		t.Partition, t.Offset = m.Partition, m.Offset
		if reason := filter.Check(&t); reason != consent.Released {
			stats.Excluded[string(reason)]++
			return nil
		}
		if reason := fits(formats, &t, filter.Grant.Categories()); reason != "" {
			stats.Excluded[reason]++
			return nil
		}
		stats.Released++
		for _, s := range sorters {
			if err := s.Add(&t); err != nil {
				return fmt.Errorf("sort records: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", topic, err)
	}
	prog.Done(stats)
	if err := r.cfg.Producer.Flush(ctx); err != nil {
		return fmt.Errorf("quarantine invalid records: %w", err)
	}
	return nil
}

// recheck syncs the consent view just before commit and checks the state
// again. A state that no longer grants, or grants something else, cancels
// the release: it returns the reason, and nothing is published.
func (r *Runner) recheck(ctx context.Context, req Request, planned consent.Grant) (string, error) {
	if err := r.syncConsent(ctx); err != nil {
		return "", fmt.Errorf("re-check consent: %w", err)
	}
	return recheckIn(r.cfg.Grants, req, planned, r.cfg.Now().UTC()), nil
}

// recheckIn returns why the consent state in grants no longer covers the
// release staged under planned, or "". A new state that still covers it
// (granted, unexpired, every staged category, a window holding every
// staged booking time) lets the release go: what was staged is no more
// than what the customer now allows.
func recheckIn(grants Grants, req Request, planned consent.Grant, now time.Time) string {
	g, err := grants.Grant(string(req.CustomerID), req.Recipient, now)
	if err != nil {
		return "consent changed before commit: " + err.Error()
	}
	if g.Hash() == planned.Hash() {
		return ""
	}
	if !g.Categories().Has(planned.Categories()) {
		return fmt.Sprintf("consent changed before commit: %s grants %s, the release holds %s", g.Event.ConsentID, g.Categories(), planned.Categories())
	}
	// The staged records lie in [from, to) and in the planned window.
	from, to := req.From, req.To
	if w := planned.Event.WindowFrom; !w.IsZero() && w.After(from) {
		from = w
	}
	if w := planned.Event.WindowTo; !w.IsZero() && w.Before(to) {
		to = w
	}
	if (!g.Event.WindowFrom.IsZero() && g.Event.WindowFrom.After(from)) || (!g.Event.WindowTo.IsZero() && g.Event.WindowTo.Before(to)) {
		return fmt.Sprintf("consent changed before commit: the window of %s no longer covers the release", g.Event.ConsentID)
	}
	return ""
}

func toSnapshot(s kafkasource.Snapshot) release.Snapshot {
	out := release.Snapshot{Topic: s.Topic, Partitioner: s.Partitioner, Pruned: s.Pruned, Partitions: []release.PartitionRange{}}
	for _, rg := range s.Ranges {
		out.Partitions = append(out.Partitions, release.PartitionRange{Partition: rg.Partition, Start: rg.Start, End: rg.End})
	}
	return out
}

// resultOf reports a committed release from its manifest, with fresh links
// when links is set (a bulk task's results go to the ledger, which keeps
// no links: signing them there was wasted work), and the event of g when
// the manifest names that grant (g may be nil).
func (r *Runner) resultOf(ctx context.Context, m *release.Manifest, status release.Status, links bool, g *consent.Grant) (*Result, error) {
	if status == release.StatusAlreadyCommitted && m.Midata.Counts.Released == 0 {
		status = release.StatusEmpty // as its first writer reported it: nothing to deliver (kill -9 drill)
	}
	res := &Result{
		CustomerID: m.Midata.CustomerID,
		ReleaseID:  m.ID,
		Status:     status,
		Manifest:   r.cfg.Locate(Prefix(m.ID) + release.ManifestFile),
		Files:      []File{},
		Links:      []Link{},
		Stats:      m.Midata.Counts,
		Snapshot:   &m.Midata.Snapshot,
	}
	if len(m.Midata.ConsentIDs) > 0 {
		res.Consent = &Consent{ID: m.Midata.ConsentIDs[0], Categories: m.Midata.Categories}
		if g != nil && m.Midata.ConsentHash == "sha256:"+g.Hash() {
			res.Consent.Event = &g.Event
		}
	}
	linker, _ := r.cfg.Sink.(sinks.Linker)
	if !links {
		linker = nil
	}
	for _, rs := range m.Resources {
		key := releasestore.Key(m.ID, rs)
		format := rs.MidataFormat
		if format == "" {
			format = rs.Name
		}
		res.Files = append(res.Files, File{Format: format, Path: r.cfg.Locate(key), Rows: rs.Rows, Bytes: rs.Bytes, SHA256: trimHash(rs.Hash)})
		if linker == nil {
			continue
		}
		l, err := linker.Link(ctx, key, r.cfg.LinkTTL)
		if err != nil {
			return nil, fmt.Errorf("sign link to %s: %w", key, err)
		}
		res.Links = append(res.Links, Link{Path: rs.Path, Link: l})
	}
	return res, nil
}

func trimHash(h string) string {
	if len(h) > 7 && h[:7] == "sha256:" {
		return h[7:]
	}
	return h
}

// Owner is who asks for a release's links: the customer (empty for a
// partner, who may hold releases of many) and the recipient.
type Owner struct {
	CustomerID string
	Recipient  schemas.Recipient
}

// LinksFor signs fresh download links to the files of a committed release
// for owner, after checking that the release is owner's (its manifest's
// recipient, and customer when owner names one) and that the customer's
// grant to the recipient still stands (synced now). A release that is not
// the owner's is not found (an error wrapping sinks.ErrNotFound, as for
// none); a withdrawn or expired grant is an error wrapping
// consent.ErrNoConsent: links never outlive consent.
func (r *Runner) LinksFor(ctx context.Context, releaseID string, owner Owner) ([]Link, error) {
	m, err := r.committed(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	if m == nil || m.Midata.Recipient != owner.Recipient || owner.CustomerID != "" && m.Midata.CustomerID != owner.CustomerID {
		return nil, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
	}
	if err := r.syncConsent(ctx); err != nil {
		return nil, err
	}
	if _, err := r.cfg.Grants.Grant(m.Midata.CustomerID, m.Midata.Recipient, r.cfg.Now().UTC()); err != nil {
		return nil, fmt.Errorf("links of release %s: %w", releaseID, err)
	}
	res, err := r.resultOf(ctx, m, release.StatusCommitted, true, nil)
	if err != nil {
		return nil, err
	}
	return res.Links, nil
}

// Links signs fresh download links to the files of a committed release; it
// returns an error wrapping sinks.ErrNotFound when there is no such release.
// It checks no owner or consent: LinksFor does, for callers outside.
func (r *Runner) Links(ctx context.Context, releaseID string) ([]Link, error) {
	m, err := r.committed(ctx, releaseID)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("release %s: %w", releaseID, sinks.ErrNotFound)
	}
	res, err := r.resultOf(ctx, m, release.StatusCommitted, true, nil)
	if err != nil {
		return nil, err
	}
	return res.Links, nil
}
