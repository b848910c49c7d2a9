// Package jobs owns the work queue and the run ledger of `midata serve`:
// export requests published on the midata.requests topic and taken by the
// workers of one consumer group (package worker), the records on
// midata.runs that record every step of every run (the audit trail), and
// the view each instance rebuilds from that topic at start.
//
// It does not make releases itself (pipeline.Runner does, behind the
// Executor seam), decide when schedules fire (pipeline/schedule), serve
// HTTP (pipeline/api) or speak Kafka: package topics gives it the producer,
// the view of a compacted topic, the consumer group and the topic specs
// (topics.RequestsSpec, topics.RunsSpec; Topics.Specs).
//
// # Pieces
//
//   - Ledger publishes the records of midata.runs (compacted), each at most
//     MaxRecordBytes whatever the size of the run: a Run (key: run id; the
//     request, status, progress and Counts), each release outcome as a
//     Release of its own (key: ReleaseKey, "<run id>|<customer id>"; a
//     bulk run's outcomes are keyed by the bulk run, written by its
//     tasks), and leases (key: LeaseKey; a tombstone drops one). A request
//     names at most MaxCustomers customers, so a run record stays small.
//     A record refused for its size, here or by the brokers, is a
//     Permanent error.
//   - View rebuilds the ledger from midata.runs at start (Ready) and tails
//     it, a topics.View that applies run records with the merge rules
//     below; it pages a run's outcomes by customer (Releases), finds one
//     (Release), a customer's runs (List) and a run's lease (Lease); Sync
//     gives read-your-writes across instances. Runs and leases are held
//     in memory; release outcomes, as many as the topic keeps, in an
//     embedded Pebble store on disk (ViewConfig.Dir), emptied and rebuilt
//     from the topic at every open, whose memory is bounded whatever
//     their number.
//   - Queue submits, cancels and retries runs: Submit publishes the queued
//     Run first, then the Request on midata.requests (key: request id).
//   - worker.Worker consumes midata.requests in a consumer group, holds a
//     Lease on each run it executes, calls the Executor with a Reporter
//     that puts progress, counts and outcomes on the ledger, and commits
//     the offset once the run's end is written.
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
//     MaxAttempts attempts in its round, counted on the ledger;
//   - a worker handed the request of a run whose lease another worker
//     holds, live, does not start it: it waits, without committing, and
//     takes the run over as a new attempt once the lease expires (no
//     heartbeat for its TTL, on the waiting worker's own clock). A worker
//     starts a run only once its lease is written and a Sync after it
//     shows no later claim. Two workers can still both start (each saw its
//     own lease before the other's landed), so the heartbeat fences: on
//     each tick the holder checks the view's lease, and when another
//     worker's lease of the round came after its own (confirmed after a
//     Sync: of two holders exactly one gives way), or no renewal succeeded
//     for the TTL, it stops the run without writing a step or an end of it
//     and decides on the request again (it waits for the new holder). The
//     same check is made on a synced view when an attempt returns, before
//     its result is written; once stopped, a worker writes nothing more of
//     the run, not even its buffered outcomes. Until then both may write
//     steps and outcomes of the run, interleaved; the
//     outcomes are true either way (the Executor's storage is attempt-owned
//     and commits conditionally);
//   - a run whose end record the brokers refuse for good is ended failed
//     with the reason; it is never retried forever.
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
// (worker.Config.BulkConcurrency) and do not count against Concurrency: a
// worker whose bulk slots are full parks further bulk requests (in memory,
// uncommitted) and keeps fetching, so the tasks, which are separate
// messages, always find a free slot on some worker. Tasks must not be bulk
// requests themselves.
package jobs
