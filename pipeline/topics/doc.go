// Package topics is the one package that speaks Kafka for midata's own
// topics: midata.consent, midata.quarantine, midata.requests, midata.runs
// and midata.schedules (and the transactions topic as `midata dev` and
// `midata seed` create it).
//
// It owns:
//
//   - the topic names, their defaults and their specs (partitions, cleanup
//     policy, retention) in one place (spec.go), and Ensure, which every
//     command that needs topics calls to create the missing ones;
//   - Connection, the Kafka settings every client of midata gets its
//     transport and dialer from (package kafkasource included);
//   - Producer, the writer of midata's records (quarantined input, consent
//     events, runs, requests, schedules);
//   - View, the one mechanism for views of compacted topics: read to the
//     end at start, then tail; Sync brings a view to the topic's current
//     end; tombstones delete; the decoding of entries is the caller's;
//   - Consumer, a member of a consumer group (the workers of
//     midata.requests) that commits only below its oldest record in
//     flight; Lag and WatchLag, the group's consumer lag.
//
// It does not know what the records mean: the run ledger and the queue are
// package jobs', the schedules package schedule/store's, consent package
// consent's. Planning and reading the transactions of a release is package
// kafkasource's.
//
// All Kafka access goes through github.com/segmentio/kafka-go; a View
// reads with package fetch, which sends fetch requests through a kafka-go
// transport and parses their record batches itself.
package topics
