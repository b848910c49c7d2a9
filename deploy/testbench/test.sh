#!/usr/bin/env bash
# test.sh: what `make test` (and so CI, through .ci/run) runs.
#
#   1. start the bench (bench.sh start), unless one is already running, in
#      which case it is used and left running; a bench started here is
#      stopped on exit, whatever happens;
#   2. export the variables the tests read (bench.sh env) and
#      MIDATA_TEST_REQUIRE_BENCH=1, so a test cannot pass by skipping the
#      real servers;
#   3. go vet, then go test -race -shuffle=on over the packages;
#   4. on failure print the last 80 lines of each server log;
#   5. exit with the status of the first failing step (0 when all pass).
#
# Environment:
#   GOTEST_FLAGS  extra go test flags, e.g. GOTEST_FLAGS='-run TestKafka -v'
#   GOTEST_PKGS   packages to vet and test (default ./...)
#   plus bench.sh's MIDATA_BENCH_DIR, MIDATA_BENCH_CACHE, MIDATA_BENCH_TIMEOUT
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH=deploy/testbench/bench.sh
PKGS="${GOTEST_PKGS:-./...}"

started=0
finish() {
	local status=$?
	if ((status != 0)); then
		echo "test.sh: failed (exit $status); server logs follow" >&2
		bash "$BENCH" logs 80 >&2 || true
	fi
	if ((started)); then
		bash "$BENCH" stop || true
	fi
	exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if bash "$BENCH" status >/dev/null 2>&1; then
	echo "test.sh: using the bench that is already running (left running afterwards)"
else
	started=1
	bash "$BENCH" start
fi
eval "$(bash "$BENCH" env)"
export MIDATA_TEST_REQUIRE_BENCH=1

# Each step is one function; a step added later (e.g. the Python readers
# that check the Parquet output: python3 -m pip install ...) goes in
# between as its own function and its own line in the list at the bottom.

go_vet() {
	# shellcheck disable=SC2086 # PKGS is a list of patterns
	go vet $PKGS
}

go_tests() {
	# shellcheck disable=SC2086 # GOTEST_FLAGS and PKGS are lists
	go test -race -shuffle=on -timeout 45m -count=1 ${GOTEST_FLAGS:-} $PKGS
}

go_vet
go_tests
