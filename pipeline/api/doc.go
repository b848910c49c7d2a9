// Package api owns the HTTP API of `midata serve`: the routes, who may call
// each (bearer tokens with a role: ops, customer:<id>, partner:<id>), the
// JSON shapes in and out, and the OpenAPI document that describes them.
//
// It does not queue, run or schedule anything itself: it speaks to the run
// queue and view (Runs, RunControl), the schedules (Schedules), the consent
// topic (Consent) and the object store (Links) through the small interfaces
// of package pipeline/api/ports, which `midata serve` wires to pipeline/jobs,
// pipeline/schedule and pipeline. It does not mount /metrics either.
//
// Every route is in Routes, the one list the mux is built from, and in
// openapi.json, served at /openapi.json; a test keeps the two equal.
package api
