#!/usr/bin/env bash
# drills.sh: what `make drills` (and, after `make test`, .ci/run) runs: the
# long cases kept out of make test, against the test bench's real Kafka and
# S3, in about 10 minutes on 2 cores.
#
#   1. start the bench (bench.sh start) unless one runs already (then it is
#      used and left running; one started here is stopped on exit);
#   2. a run of 1,000,000 releases through the ledger (pipeline/jobs), with
#      its time and memory per outcome;
#   3. the fault drills at full length (MIDATA_DRILLS_LONG=1): 1,000,000
#      malformed records through a release, 20 kill -9s of serve in a bulk
#      run (then its sweeps), 3 broker restarts, the consent drill, the long
#      S3 fault schedules.
#
# Environment: bench.sh's MIDATA_BENCH_DIR, MIDATA_BENCH_CACHE,
# MIDATA_BENCH_TIMEOUT; MIDATA_DRILL_SEED repeats a kill or broker drill's
# logged moments.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH=deploy/testbench/bench.sh

# shellcheck source=lib.sh
source deploy/testbench/lib.sh
use_bench drills.sh logs
export MIDATA_TEST_REQUIRE_BENCH=1

MIDATA_LEDGER_RELEASES=1000000 go test -count=1 -timeout 30m -v -run '^TestARunOfAMillionReleasesEnds$' ./pipeline/jobs/
MIDATA_DRILLS_LONG=1 go test -count=1 -timeout 80m -v -run 'Flood|Kill9|Drill|S3Faults' ./pipeline/ ./cmd/midata/ ./pipeline/drills/
