package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/midata/midata/schemas"
)

// Defaults of ViewConfig.
const (
	DefaultViewTimeout = 10 * time.Second
	DefaultViewMaxWait = time.Second
)

// ViewConfig configures a View.
type ViewConfig struct {
	// Brokers are the bootstrap brokers, host:port. Required.
	Brokers []string
	// Topic is the runs topic. Default DefaultRunsTopic.
	Topic string
	// Logger receives read errors and undecodable events. Default: discard.
	Logger *slog.Logger
	// Timeout bounds each metadata and offset request. Default 10s.
	Timeout time.Duration
	// MaxWait is how long one fetch waits for new events before asking
	// again; new events arrive as soon as they are written whatever it is.
	// Default 1s.
	MaxWait time.Duration
}

// Validate reports what is wrong with the configuration.
func (c ViewConfig) Validate() error {
	var errs []error
	if err := validateBrokers(c.Brokers); err != nil {
		errs = append(errs, err)
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v: want 0 (default %v) or more", c.Timeout, DefaultViewTimeout))
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("max wait %v: want 0 (default %v) or more", c.MaxWait, DefaultViewMaxWait))
	}
	return errors.Join(errs...)
}

func (c ViewConfig) withDefaults() ViewConfig {
	c.Topic = Topics{Runs: c.Topic}.withDefaults().Runs
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultViewTimeout
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultViewMaxWait
	}
	return c
}

// RunFilter selects runs for View.List. Zero fields match everything. Its
// fields are those of api.RunFilter, so one converts to the other.
type RunFilter struct {
	Status     []Status          // any of these; empty: any status
	ScheduleID string            // runs fired by this schedule
	Customer   string            // runs whose scope names this customer, or that released for them
	Recipient  schemas.Recipient // "self" or "partner:<id>"
	Limit      int               // at most this many, newest first; 0: all
}

// match reports whether r passes f.
func (f RunFilter) match(r Run) bool {
	if len(f.Status) > 0 && !slices.Contains(f.Status, r.Status) {
		return false
	}
	if f.ScheduleID != "" && r.Request.ScheduleID != f.ScheduleID {
		return false
	}
	if f.Recipient != "" && r.Request.Recipient != f.Recipient {
		return false
	}
	if f.Customer != "" && !slices.Contains(r.Request.Scope.Customers, f.Customer) &&
		!slices.ContainsFunc(r.Releases, func(rel Release) bool { return rel.CustomerID == f.Customer }) {
		return false
	}
	return true
}

// errViewClosed is returned by the waits of a closed View.
var errViewClosed = errors.New("view closed")

// View is the in-memory state of every run, rebuilt from the runs topic:
// at start it reads the topic from the beginning up to its high watermarks
// (then Ready reports true) and it keeps reading new events until its
// context ends or Close, with one goroutine per partition that Close waits
// for. Events are applied with the rules of merge, the
// same on every instance. It is safe for concurrent use.
type View struct {
	cfg       ViewConfig
	transport *kafka.Transport
	client    *kafka.Client
	ctx       context.Context // ends when the View stops reading
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	readers   []*kafka.Reader

	mu      sync.Mutex
	runs    map[string]Run
	next    map[int]int64 // the next offset to apply, by partition
	start   map[int]int64 // the high watermarks at start: Ready once next reaches them
	ready   bool
	changed chan struct{} // closed and replaced whenever next moves
}

// OpenView starts a View of cfg.Topic, which must exist. The View reads
// until ctx ends or Close is called; call Close in any case to wait for it.
// It returns before the View is Ready.
func OpenView(ctx context.Context, cfg ViewConfig) (*View, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	cfg = cfg.withDefaults()
	t := &kafka.Transport{Dial: (&net.Dialer{Timeout: cfg.Timeout}).DialContext, DialTimeout: cfg.Timeout, ClientID: "midata-jobs"}
	v := &View{
		cfg:       cfg,
		transport: t,
		client:    &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: t, Timeout: cfg.Timeout},
		runs:      map[string]Run{},
		changed:   make(chan struct{}),
	}
	partitions, err := v.partitions(ctx)
	if err != nil {
		t.CloseIdleConnections()
		return nil, fmt.Errorf("open view of %s: %w", cfg.Topic, err)
	}
	first, last, err := v.offsets(ctx, partitions)
	if err != nil {
		t.CloseIdleConnections()
		return nil, fmt.Errorf("open view of %s: %w", cfg.Topic, err)
	}
	v.next, v.start = first, last
	v.ready = v.caughtUp(last)

	v.ctx, v.cancel = context.WithCancel(ctx)
	for _, p := range partitions {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers:        cfg.Brokers,
			Topic:          cfg.Topic,
			Partition:      p,
			MinBytes:       1,
			MaxBytes:       4 << 20,
			MaxWait:        cfg.MaxWait,
			StartOffset:    kafka.FirstOffset,
			ReadBackoffMin: 50 * time.Millisecond,
			ReadBackoffMax: time.Second,
			Dialer:         &kafka.Dialer{Timeout: cfg.Timeout, ClientID: "midata-jobs"},
			ErrorLogger:    kafka.LoggerFunc(func(msg string, args ...any) { cfg.Logger.Debug("runs reader: " + fmt.Sprintf(msg, args...)) }),
		})
		if err := r.SetOffset(first[p]); err != nil {
			r.Close()
			v.Close()
			return nil, fmt.Errorf("open view of %s: partition %d: %w", cfg.Topic, p, err)
		}
		v.readers = append(v.readers, r)
		v.wg.Add(1)
		go v.tail(v.ctx, p, r)
	}
	return v, nil
}

// partitions returns the partition ids of the topic.
func (v *View) partitions(ctx context.Context) ([]int, error) {
	meta, err := v.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{v.cfg.Topic}})
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	for _, t := range meta.Topics {
		if t.Name != v.cfg.Topic {
			continue
		}
		if errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
			return nil, errTopicMissing
		}
		if t.Error != nil {
			return nil, fmt.Errorf("read metadata: %w", t.Error)
		}
		var out []int
		for _, p := range t.Partitions {
			out = append(out, p.ID)
		}
		if len(out) == 0 {
			return nil, errors.New("topic has no partitions")
		}
		slices.Sort(out)
		return out, nil
	}
	return nil, errTopicMissing
}

var errTopicMissing = errors.New("topic not found: create it with jobs.EnsureTopics")

// offsets returns the first and the high watermark offsets of partitions.
func (v *View) offsets(ctx context.Context, partitions []int) (first, last map[int]int64, err error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*len(partitions))
	for _, p := range partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := v.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{v.cfg.Topic: reqs}})
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets: %w", err)
	}
	first, last = map[int]int64{}, map[int]int64{}
	for _, po := range res.Topics[v.cfg.Topic] {
		if po.Error != nil {
			return nil, nil, fmt.Errorf("list offsets of partition %d: %w", po.Partition, po.Error)
		}
		first[po.Partition], last[po.Partition] = po.FirstOffset, po.LastOffset
	}
	for _, p := range partitions {
		if _, ok := last[p]; !ok {
			return nil, nil, fmt.Errorf("list offsets: no answer for partition %d", p)
		}
	}
	return first, last, nil
}

// tail applies the events of partition p until ctx ends.
func (v *View) tail(ctx context.Context, p int, r *kafka.Reader) {
	defer v.wg.Done()
	backoff := 50 * time.Millisecond
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			v.cfg.Logger.Warn("read runs", "topic", v.cfg.Topic, "partition", p, "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		v.apply(p, m)
	}
}

// apply merges the event m of partition p.
func (v *View) apply(p int, m kafka.Message) {
	id := string(m.Key)
	var e Run
	var decoded bool
	if m.Value != nil {
		if err := json.Unmarshal(m.Value, &e); err != nil || e.ID != id {
			v.cfg.Logger.Warn("skip undecodable run event", "topic", v.cfg.Topic, "partition", p, "offset", m.Offset, "key", id, "error", err)
		} else {
			decoded = true
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case m.Value == nil: // a tombstone: the run is forgotten
		delete(v.runs, id)
	case decoded:
		cur, ok := v.runs[id]
		if next, changed := merge(cur, ok, e); changed {
			v.runs[id] = next
		}
	}
	v.next[p] = max(v.next[p], m.Offset+1)
	if !v.ready && v.caughtUp(v.start) {
		v.ready = true
	}
	close(v.changed)
	v.changed = make(chan struct{})
}

// caughtUp reports whether every partition's next offset has reached
// target. v.mu must be held, or v not shared yet.
func (v *View) caughtUp(target map[int]int64) bool {
	for p, off := range target {
		if v.next[p] < off {
			return false
		}
	}
	return true
}

// Ready reports whether the View has applied every event that was on the
// topic when it opened.
func (v *View) Ready() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.ready
}

// Sync returns once the View has applied every event written before the
// call (read-your-writes across instances): it asks the brokers for the
// high watermarks and waits for the readers to reach them.
func (v *View) Sync(ctx context.Context) error {
	v.mu.Lock()
	partitions := make([]int, 0, len(v.next))
	for p := range v.next {
		partitions = append(partitions, p)
	}
	v.mu.Unlock()
	_, last, err := v.offsets(ctx, partitions)
	if err != nil {
		return fmt.Errorf("sync view of %s: %w", v.cfg.Topic, err)
	}
	if err := v.waitFor(ctx, func() bool { return v.caughtUp(last) }); err != nil {
		return fmt.Errorf("sync view of %s: %w", v.cfg.Topic, err)
	}
	return nil
}

// waitFor blocks until cond, called with v.mu held, holds. It fails when
// ctx ends or the View stops reading.
func (v *View) waitFor(ctx context.Context, cond func() bool) error {
	for {
		v.mu.Lock()
		ok, changed := cond(), v.changed
		v.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-v.ctx.Done():
			return errViewClosed
		case <-changed:
		}
	}
}

// Get returns the run id.
func (v *View) Get(id string) (Run, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r, ok := v.runs[id]
	return r, ok
}

// List returns the runs f selects, newest (CreatedAt) first, ties by id;
// at most f.Limit when it is positive.
func (v *View) List(f RunFilter) []Run {
	v.mu.Lock()
	out := make([]Run, 0, min(len(v.runs), max(f.Limit, 16)))
	for _, r := range v.runs {
		if f.match(r) {
			out = append(out, r)
		}
	}
	v.mu.Unlock()
	slices.SortFunc(out, func(a, b Run) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// Wait blocks until the run id exists and satisfies ok, and returns it.
// It fails when ctx ends or the View closes.
func (v *View) Wait(ctx context.Context, id string, ok func(Run) bool) (Run, error) {
	var got Run
	err := v.waitFor(ctx, func() bool {
		r, found := v.runs[id]
		got = r
		return found && ok(r)
	})
	if err != nil {
		return Run{}, fmt.Errorf("wait for run %s: %w", id, err)
	}
	return got, nil
}

// Close stops reading and waits for the readers to end. Waits in progress
// fail. Get and List still answer from the last state.
func (v *View) Close() error {
	v.cancel()
	v.wg.Wait()
	var errs []error
	for _, r := range v.readers {
		errs = append(errs, r.Close())
	}
	v.readers = nil
	v.transport.CloseIdleConnections()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close view of %s: %w", v.cfg.Topic, err)
	}
	return nil
}
