// Package serve wires midata's commands that run the pipeline, from a
// config.Config to running parts.
//
// Service is one instance of `midata serve`: it ensures the service's
// topics (pipeline/topics specs), builds the runner, the run ledger and
// its view (retrying while fresh topics get leaders), the queue, the
// worker, the schedules and their scheduler, the API with /metrics, and
// runs them with a two-phase shutdown. Health is its readiness check
// (/readyz), Metered its run metrics, Declared converts the schedules of
// the config file. Executor is the worker's jobs.Executor: it turns the
// requests the workers take (pipeline/jobs) into releases of the runner
// (pipeline), fanning a bulk request out into one task per partition,
// maps each pipeline.Result to the ledger's jobs.Release, and decides
// which errors are worth a retry.
//
// Dev is the embedded default of `midata dev`: an in-process Kafka broker
// seeded with the synthetic data set, a local-disk store and the server
// of its signed links, and the on-demand release, recorded first as the
// customer's consent event. Export is the one release of `midata
// export` against any Kafka and S3.
//
// It does not parse flags or print results (cmd/midata does), make
// releases itself (pipeline does), nor queue, lease or retry requests
// (pipeline/jobs does).
package serve
