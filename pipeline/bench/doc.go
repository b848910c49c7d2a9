// Package bench is `midata bench`: the figures of midata's speed and memory
// against a real Kafka and S3, every one measured in the same run so that
// the machine's noise cancels, each beside the baseline it is judged
// against and the target it should meet.
//
// For each shape of data (customers × records each, scaled) it seeds fresh
// topics with schemas/synth through seed.Produce (murmur2 on 12 partitions,
// 80 % of customers with a self grant), then measures:
//
//   - raw consume: a kafka-go Fetch loop over the same topic with the same
//     fetch size, discarding, with the workers' concurrency;
//   - bulk release end to end, per format: a child `midata serve` (the
//     binary itself), a bulk request through its API as `midata runs start
//     --all` makes it, timed from the request until its run is final, and
//     the child's peak RSS;
//   - raw S3: as many objects of the same mean size as that bulk release
//     wrote, PUT with as many in flight as the bulk run may keep;
//   - one customer: a child `midata export` (time, and records scanned ÷
//     topic size) against the shell a user would write (kcat | grep |
//     curl --aws-sigv4, or a Go stand-in when kcat is missing);
//   - one worker process against two, on the same bulk request, started
//     once both are in the group (with the tasks each ran);
//   - peak RSS of the bulk run at N and at 10 N records (one shape).
//
// Report holds the figures; it prints as a table and encodes as JSON.
// Targets are ratios to a baseline of the same run (bench.go's targets).
//
// It does not start the servers (deploy/testbench does) and uses only the
// public constructors and the HTTP API of the pipeline, so it keeps
// measuring while the pipeline changes.
package bench
