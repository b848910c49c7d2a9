// Package serve wires one instance of `midata serve`: it turns the
// requests the workers take (pipeline/jobs) into releases of the runner
// (pipeline), fanning a bulk request out into one task per partition, and
// maps each pipeline.Result to the ledger's jobs.Release. The rest of the
// service's wiring (config → worker, scheduler, API, metrics), still in
// cmd/midata/serve.go, is to move here as well.
//
// It does not make releases itself (pipeline does), nor queue, lease or
// retry requests (pipeline/jobs does): it decides which errors are worth a
// retry.
package serve
