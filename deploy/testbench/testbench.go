// Package testbench finds the servers that tests run against: the real
// Apache Kafka broker and versitygw S3 server that `make test` starts
// (deploy/testbench/bench.sh), or, when those are not there, an in-process
// Kafka fake. It is for tests only: every function takes a testing.TB and
// fails the test rather than returning an error.
//
// The real bench is found through environment variables (bench.sh env prints
// them): MIDATA_TEST_KAFKA, MIDATA_TEST_S3 with MIDATA_TEST_S3_ACCESS_KEY,
// MIDATA_TEST_S3_SECRET_KEY and MIDATA_TEST_S3_REGION (and, for the drills,
// MIDATA_TEST_S3_ROOT and MIDATA_TEST_KAFKA_LIBS: PrivateKafka). Without them Kafka
// falls back to franz-go's kfake and S3 reports that no server is there, so
// the caller can skip; with MIDATA_TEST_REQUIRE_BENCH=1 (set by `make test`)
// a missing server fails the test instead, so CI cannot pass by skipping.
//
// It does not start or stop the bench (bench.sh does; PrivateKafka starts a
// broker of one test's own, from the bench's jars) and does not clean up
// what tests create: every bench start begins from empty storage, and
// UniqueName keeps tests that share a running bench apart.
package testbench

import (
	"net"
	"os"
	"time"
)

// Environment variables read by this package.
const (
	// EnvKafka holds comma-separated Kafka bootstrap addresses (host:port).
	EnvKafka = "MIDATA_TEST_KAFKA"
	// EnvS3 holds the S3 endpoint URL, e.g. http://127.0.0.1:17070.
	EnvS3 = "MIDATA_TEST_S3"
	// EnvS3AccessKey holds the S3 access key id.
	EnvS3AccessKey = "MIDATA_TEST_S3_ACCESS_KEY"
	// EnvS3SecretKey holds the S3 secret access key.
	EnvS3SecretKey = "MIDATA_TEST_S3_SECRET_KEY"
	// EnvS3Region holds the S3 region; DefaultS3Region when unset.
	EnvS3Region = "MIDATA_TEST_S3_REGION"
	// EnvS3Root holds the folder the S3 server's posix backend serves.
	EnvS3Root = "MIDATA_TEST_S3_ROOT"
	// EnvRequireBench, when "1", turns a missing real server into a test
	// failure instead of a fallback or a skip.
	EnvRequireBench = "MIDATA_TEST_REQUIRE_BENCH"
)

// DefaultS3Region is the region used when EnvS3Region is unset.
const DefaultS3Region = "us-east-1"

// dialTimeout bounds the reachability check done before handing out an
// address, so a bench that is down fails fast with a hint instead of
// hanging the test that uses it.
const dialTimeout = 5 * time.Second

// startHint tells a person how to bring the bench up.
const startHint = "start the bench with `make bench-up` and export its variables with " +
	"`eval \"$(deploy/testbench/bench.sh env)\"`"

// benchRequired reports whether EnvRequireBench asks for the real servers.
func benchRequired() bool {
	return os.Getenv(EnvRequireBench) == "1"
}

// reachable dials addr over TCP once, with dialTimeout.
func reachable(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		return err
	}
	return conn.Close()
}
