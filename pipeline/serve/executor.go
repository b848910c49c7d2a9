package serve

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/midata/midata/pipeline"
	"github.com/midata/midata/pipeline/jobs"
	"github.com/midata/midata/schemas"
)

// TaskQueue is where a bulk request's tasks go and how their ends are
// awaited: the jobs queue and its view of runs.
type TaskQueue interface {
	Submit(ctx context.Context, req jobs.Request) (jobs.Run, error)
	Await(ctx context.Context, id string) (jobs.Run, error) // returns once the run is final
}

// Executor makes the releases of the requests the workers take: it is the
// jobs.Executor of `midata serve`.
type Executor struct {
	Runner *pipeline.Runner
	Tasks  TaskQueue // required for bulk requests
}

var _ jobs.Executor = (*Executor)(nil)

// Execute makes the releases of req. Errors of an invalid request
// (pipeline.ErrInvalidRequest) and failed tasks of a bulk request
// (jobs.Permanent) are final; others (brokers, store) are marked transient
// so the worker retries them.
func (e *Executor) Execute(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
	var (
		out []jobs.Release
		err error
	)
	switch req.Kind {
	case jobs.KindRelease:
		out, err = e.release(ctx, req, report)
	case jobs.KindBulk:
		out, err = e.bulk(ctx, req, report)
	case jobs.KindTask:
		out, err = e.task(ctx, req, report)
	default:
		return nil, fmt.Errorf("%w: unknown request kind %q", pipeline.ErrInvalidRequest, req.Kind)
	}
	if err != nil && !errors.Is(err, pipeline.ErrInvalidRequest) && !jobs.IsPermanent(err) && ctx.Err() == nil {
		err = errors.Join(err, jobs.ErrTransient)
	}
	return out, err
}

func (e *Executor) release(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
	if req.Scope.All || len(req.Scope.Customers) == 0 {
		return nil, fmt.Errorf("%w: a release request names its customers (for everyone with consent, ask for a bulk release)", pipeline.ErrInvalidRequest)
	}
	var out []jobs.Release
	for i, c := range req.Scope.Customers {
		res, err := e.Runner.Release(ctx, pipeline.Request{ID: req.ID, CustomerID: schemas.CustomerID(c), Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats})
		if err != nil {
			return out, fmt.Errorf("release of %s: %w", c, err)
		}
		out = append(out, toRelease(c, res))
		report(jobs.Progress{CustomersDone: int64(i + 1), Customers: int64(len(req.Scope.Customers))})
	}
	return out, nil
}

// bulk plans the request once, submits one task per partition (or one for
// all), and waits for them: the tasks spread over the workers.
func (e *Executor) bulk(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
	if e.Tasks == nil {
		return nil, fmt.Errorf("%w: this worker cannot fan out bulk requests", pipeline.ErrInvalidRequest)
	}
	b := pipeline.Bulk{ID: req.ID, Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
	if _, err := b.Validate(); err != nil {
		return nil, err
	}
	snap, tasks, err := e.Runner.PlanBulk(ctx, b)
	if err != nil {
		return nil, err
	}
	report(jobs.Progress{RecordsToScan: snap.Records()})
	ids := make([]string, len(tasks))
	for i, p := range tasks {
		task := req
		task.Kind, task.Parent, task.Partition, task.ScheduleID = jobs.KindTask, req.ID, p, ""
		task.ID = taskID(req.ID, p)
		if _, err := e.Tasks.Submit(ctx, task); err != nil {
			return nil, fmt.Errorf("submit task %s: %w", task.ID, err)
		}
		ids[i] = task.ID
	}
	var out []jobs.Release
	var failed []error
	for _, id := range ids {
		run, err := e.Tasks.Await(ctx, id)
		if err != nil {
			return out, fmt.Errorf("await task %s: %w", id, err)
		}
		switch run.Status {
		case jobs.StatusSucceeded, jobs.StatusNoConsent: // run statuses: the task ended well
		default:
			failed = append(failed, fmt.Errorf("task %s %s: %s", id, run.Status, run.Error))
		}
		out = append(out, run.Releases...)
		report(jobs.Progress{RecordsToScan: snap.Records(), CustomersDone: int64(len(out))})
	}
	if err := errors.Join(failed...); err != nil {
		return out, jobs.Permanent(err) // the tasks were retried already
	}
	return out, nil
}

func (e *Executor) task(ctx context.Context, req jobs.Request, report func(jobs.Progress)) ([]jobs.Release, error) {
	b := pipeline.Bulk{ID: req.Parent, Recipient: req.Recipient, From: req.From, To: req.To, Formats: req.Formats}
	snap, _, err := e.Runner.PlanBulk(ctx, b)
	if err != nil {
		return nil, err
	}
	results, err := e.Runner.RunTask(ctx, b, snap, req.Partition, func(p pipeline.BulkProgress) {
		report(jobs.Progress{RecordsScanned: p.Scanned, RecordsToScan: p.ToScan, CustomersDone: p.CustomersDone, Customers: p.Customers})
	})
	out := make([]jobs.Release, 0, len(results))
	for _, res := range results {
		out = append(out, toRelease(res.CustomerID, res))
	}
	return out, err
}

// taskID is the deterministic id of one task of a bulk request.
func taskID(parent string, partition int) string {
	if partition == pipeline.AllPartitions {
		return parent + "/all"
	}
	return parent + "/p" + strconv.Itoa(partition)
}

// toRelease is the ledger's record of one release the runner made.
func toRelease(customer string, res *pipeline.Result) jobs.Release {
	return jobs.Release{ReleaseID: res.ReleaseID, CustomerID: customer, Status: res.Status,
		Rows: res.Stats.Released, Manifest: res.Manifest, Reason: res.Reason}
}
