// Package fanout follows the tasks of a bulk run (pipeline/serve's
// Executor fans a bulk request out into one task per partition): it waits
// for every task to end and sums their progress and counts into the
// bulk run's.
package fanout

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/midata/midata/pipeline/jobs"
)

// Tasks is where the tasks' runs are read: the jobs queue and its view.
type Tasks interface {
	Await(ctx context.Context, id string) (jobs.Run, error) // returns once the run is final
	Get(id string) (jobs.Run, bool)                         // the task's run as it is now
}

// Await waits for every task ids to end and returns their ends, calling
// tick with the ends so far every interval and after each end.
func Await(ctx context.Context, tasks Tasks, ids []string, every time.Duration, tick func(map[string]jobs.Run)) (map[string]jobs.Run, error) {
	type end struct {
		id  string
		run jobs.Run
		err error
	}
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	ends := make(chan end, len(ids))
	for _, id := range ids {
		wg.Go(func() {
			run, err := tasks.Await(actx, id)
			ends <- end{id, run, err}
		})
	}
	ticker := time.NewTicker(every)
	defer ticker.Stop()
	ended := make(map[string]jobs.Run, len(ids))
	for len(ended) < len(ids) {
		select {
		case <-ctx.Done():
			return ended, ctx.Err()
		case <-ticker.C:
		case x := <-ends:
			if x.err != nil {
				return ended, fmt.Errorf("await task %s: %w", x.id, x.err)
			}
			ended[x.id] = x.run
		}
		tick(ended)
	}
	return ended, nil
}

// Sum reports to rep the progress and counts of the tasks ids, summed: an
// ended task's from its end, the others' as they are now.
func Sum(rep jobs.Reporter, tasks Tasks, toScan int64, ids []string, ended map[string]jobs.Run) {
	p := jobs.Progress{RecordsToScan: toScan}
	var c jobs.Counts
	for _, id := range ids {
		run, ok := ended[id]
		if !ok {
			run, _ = tasks.Get(id)
		}
		p.RecordsScanned += run.Progress.RecordsScanned
		p.CustomersDone += run.Progress.CustomersDone
		p.Customers += run.Progress.Customers
		c = c.Plus(run.Counts)
	}
	rep.Progress(p)
	rep.Counts(c)
}
