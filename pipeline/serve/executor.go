package serve

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/pipeline/serve/fanout"
	"github.com/midata/midata/schemas"
)

// TaskQueue is where a bulk request's tasks go and how their ends are
// awaited: the jobs queue and its view of runs.
type TaskQueue interface {
	Submit(ctx context.Context, req jobs.Request) (jobs.Run, error)
	Await(ctx context.Context, id string) (jobs.Run, error) // returns once the run is final
	Get(id string) (jobs.Run, bool)                         // the task's run as it is now: its progress
}

// DefaultTaskProgressInterval is the default Executor.TaskProgressInterval.
const DefaultTaskProgressInterval = 500 * time.Millisecond

// Executor makes the releases of the requests the workers take: it is the
// jobs.Executor of `midata serve`.
type Executor struct {
	Runner *pipeline.Runner
	Tasks  TaskQueue // required for bulk requests
	// TaskProgressInterval is how often a bulk run sums its tasks'
	// progress and counts into its own. Default 500ms.
	TaskProgressInterval time.Duration
}

var _ jobs.Executor = (*Executor)(nil)

// Execute makes the releases of req and reports each one's outcome to rep
// (a bulk run's outcomes are its tasks': it reports their summed progress
// and counts). Errors of an invalid request (pipeline.ErrInvalidRequest)
// and failed tasks of a bulk request (jobs.Permanent) are final; others
// (brokers, store) are marked transient so the worker retries them.
func (e *Executor) Execute(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	var err error
	switch req.Kind {
	case jobs.KindRelease:
		err = e.release(ctx, req, rep)
	case jobs.KindBulk:
		err = e.bulk(ctx, req, rep)
	case jobs.KindTask:
		err = e.task(ctx, req, rep)
	default:
		return fmt.Errorf("%w: unknown request kind %q", pipeline.ErrInvalidRequest, req.Kind)
	}
	if err != nil && !errors.Is(err, pipeline.ErrInvalidRequest) && !jobs.IsPermanent(err) && ctx.Err() == nil {
		err = errors.Join(err, jobs.ErrTransient)
	}
	return err
}

func (e *Executor) release(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	if req.Scope.All || len(req.Scope.Customers) == 0 {
		return fmt.Errorf("%w: a release request names its customers (for everyone with consent, ask for a bulk release)", pipeline.ErrInvalidRequest)
	}
	var scanned int64
	for i, c := range req.Scope.Customers {
		res, err := e.Runner.Release(ctx, pipeline.Request{ID: req.ID, CustomerID: schemas.CustomerID(c), Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats})
		if err != nil {
			return fmt.Errorf("release of %s: %w", c, err)
		}
		if err := rep.Release(ctx, toRelease(c, res)); err != nil {
			return err
		}
		scanned += res.Stats.Scanned
		rep.Progress(jobs.Progress{RecordsScanned: scanned, CustomersDone: int64(i + 1), Customers: int64(len(req.Scope.Customers))})
	}
	return nil
}

// bulk plans the request once, submits one task per partition (or one for
// all), and waits for them: the tasks spread over the workers. Until they
// end it reports their progress and counts, summed.
func (e *Executor) bulk(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	if e.Tasks == nil {
		return fmt.Errorf("%w: this worker cannot fan out bulk requests", pipeline.ErrInvalidRequest)
	}
	b := pipeline.Bulk{ID: req.ID, Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
	if _, err := b.Validate(); err != nil {
		return err
	}
	snap, tasks, err := e.Runner.PlanBulk(ctx, b)
	if err != nil {
		return err
	}
	rep.Progress(jobs.Progress{RecordsToScan: snap.Records()})
	ids := make([]string, len(tasks))
	for i, p := range tasks {
		task := req
		task.Kind, task.Parent, task.Partition, task.ScheduleID = jobs.KindTask, req.ID, p, ""
		task.ID = taskID(req.ID, p)
		if _, err := e.Tasks.Submit(ctx, task); err != nil {
			return fmt.Errorf("submit task %s: %w", task.ID, err)
		}
		ids[i] = task.ID
	}
	every := e.TaskProgressInterval
	if every <= 0 {
		every = DefaultTaskProgressInterval
	}
	ended, err := fanout.Await(ctx, e.Tasks, ids, every, func(ended map[string]jobs.Run) { fanout.Sum(rep, e.Tasks, snap.Records(), ids, ended) })
	if err != nil {
		return err
	}
	var failed []error
	for _, id := range ids {
		switch run := ended[id]; run.Status {
		case jobs.StatusSucceeded, jobs.StatusNoConsent: // run statuses: the task ended well
		default:
			failed = append(failed, fmt.Errorf("task %s %s: %s", id, run.Status, run.Error))
		}
	}
	if err := errors.Join(failed...); err != nil {
		return jobs.Permanent(err) // the tasks were retried already
	}
	return nil
}

func (e *Executor) task(ctx context.Context, req jobs.Request, rep jobs.Reporter) error {
	b := pipeline.Bulk{ID: req.Parent, Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
	snap, _, err := e.Runner.PlanBulk(ctx, b)
	if err != nil {
		return err
	}
	var last jobs.Progress
	var reported int64
	err = e.Runner.StreamTask(ctx, b, snap, req.Partition, func(p pipeline.BulkProgress) {
		last = jobs.Progress{RecordsScanned: p.Scanned, RecordsToScan: p.ToScan, CustomersDone: p.CustomersDone, Customers: p.Customers}
		rep.Progress(last)
	}, func(res *pipeline.Result) error {
		// Each outcome goes to the ledger as it is made (in batches), so
		// the run's releases are visible while it runs and none is held.
		reported++
		return rep.Release(ctx, toRelease(res.CustomerID, res))
	})
	if err == nil {
		last.CustomersDone = reported // every customer of the task has its outcome
		rep.Progress(last)
	}
	return err
}

// taskID is the deterministic id of one task of a bulk request.
func taskID(parent string, partition int) string {
	if partition == pipeline.AllPartitions {
		return parent + "/all"
	}
	return parent + "/p" + strconv.Itoa(partition)
}

// toRelease is the ledger's record of one release the runner made: with
// the consent it was committed under and its files, when it was.
func toRelease(customer string, res *pipeline.Result) jobs.Release {
	rel := jobs.Release{ReleaseID: res.ReleaseID, CustomerID: customer, Status: res.Status,
		Rows: res.Stats.Released, Manifest: res.Manifest, Reason: res.Reason}
	if c := res.Consent; c != nil {
		rel.Consent = &jobs.ConsentRef{ID: c.ID, Categories: c.Categories}
		if e := c.Event; e != nil {
			rel.Consent.WindowFrom, rel.Consent.WindowTo, rel.Consent.ExpiresAt = e.WindowFrom, e.WindowTo, e.ExpiresAt
			rel.Consent.Event = &jobs.EventAt{Partition: e.Partition, Offset: e.Offset}
		}
	}
	if len(res.Files) > 0 {
		files := make([]jobs.FileRef, len(res.Files))
		for i, f := range res.Files {
			files[i] = jobs.FileRef{Path: f.Path, Format: f.Format, SHA256: f.SHA256, Bytes: f.Bytes, Rows: f.Rows}
		}
		rel.Files = &files
	}
	return rel
}
