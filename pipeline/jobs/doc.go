// Package jobs owns the work queue and the run ledger of `midata serve`:
// export requests published on the midata.requests topic and taken by the
// workers of one consumer group, the run events on midata.runs that record
// every step of every run (the audit trail), and the views of runs each
// instance rebuilds from that topic at start.
//
// It does not make releases itself (pipeline.Runner does, behind the
// Executor seam), decide when schedules fire (pipeline/schedule), serve
// HTTP (pipeline/api) or speak Kafka: package topics gives it the producer,
// the view of a compacted topic, the consumer group and the topic specs
// (topics.RequestsSpec, topics.RunsSpec; Topics.Specs).
//
// # Pieces
//
//   - Ledger publishes Run events on midata.runs (key: run id, value: the
//     whole Run as JSON; the topic is compacted).
//   - View rebuilds the runs from midata.runs at start (Ready) and tails it,
//     a topics.View that applies events with the merge rules below; Sync
//     gives read-your-writes across instances.
//   - Queue submits, cancels and retries runs: Submit publishes the queued
//     Run first, then the Request on midata.requests (key: request id).
//   - Worker consumes midata.requests in a consumer group, calls the
//     Executor and publishes the run's steps, then commits the offset.
//
// # What is guaranteed
//
// Offsets are committed only after the run's final event is on the ledger:
// at-least-once. A request can therefore reach the Executor more than once:
// when its worker dies or loses its partitions in a rebalance before the
// commit, or when two instances submit the same id at the same moment and a
// rebalance separates the two messages. Exactly one release per request
// comes from the Executor (deterministic release ids and the object store's
// conditional manifest commit), not from this package. What this package
// does guarantee:
//
//   - a request id submitted any number of times, by any number of
//     instances, is one run; duplicate messages that reach one worker while
//     the run is in flight wait for it, and duplicates that arrive after
//     the run ended are skipped (the Executor is not called again);
//   - every run ends in exactly one final state per round (Request.Retry):
//     the View never moves a run of the same round from a final state back
//     to a transient one, and a worker that skips a duplicate re-publishes
//     the final Run so that it stays the latest record of its key, which
//     is what compaction keeps;
//   - a cancel asked (status cancelling) stays until the run ends: progress
//     events do not hide it, and the worker that runs the request cancels
//     the Executor's context and publishes cancelled;
//   - shutdown is two-phase: intake stops, in-flight runs get DrainTimeout,
//     then their contexts are cancelled and each is published queued again
//     ("handed back") with its offset left uncommitted, so the next owner of
//     the partition takes it;
//   - a run whose worker keeps dying (no final event) is failed after
//     MaxAttempts attempts in its round, counted on the ledger.
//
// The View is eventually consistent: an instance sees another's events
// after they reach it (milliseconds on a healthy cluster). Use Sync where a
// decision needs everything published so far.
//
// # Bulk requests
//
// A KindBulk request's Executor submits one KindTask request per partition
// with Queue.Submit and waits for them with Queue.Await, so a bulk run holds
// its worker slot while other messages do the work. To keep that from
// deadlocking the group, bulk requests run in their own slots
// (WorkerConfig.BulkConcurrency) and do not count against Concurrency: a
// worker whose bulk slots are full parks further bulk requests (in memory,
// uncommitted) and keeps fetching, so the tasks, which are separate
// messages, always find a free slot on some worker. Tasks must not be bulk
// requests themselves.
package jobs
