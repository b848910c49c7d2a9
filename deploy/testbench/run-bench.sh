#!/usr/bin/env bash
# run-bench.sh: what `make bench` runs: `midata bench` against the test
# bench's real Kafka and S3.
#
#   1. start the bench (bench.sh start) unless one runs already (then it is
#      used and left running; one started here is stopped on exit);
#   2. export its settings as midata reads them (MIDATA_KAFKA_BROKERS,
#      MIDATA_S3_ENDPOINT, MIDATA_S3_REGION, AWS_ACCESS_KEY_ID,
#      AWS_SECRET_ACCESS_KEY), from bench.sh env;
#   3. install Debian's kcat when it is missing and we are root (the shell
#      a user would write for one customer; without it a Go stand-in runs);
#   4. build bin/midata and run `bin/midata bench $BENCH_FLAGS`, which
#      prints the table and writes bench.json.
#
# Environment: BENCH_FLAGS (e.g. '--scale 0.1 --shapes typical'), plus
# bench.sh's MIDATA_BENCH_DIR, MIDATA_BENCH_CACHE, MIDATA_BENCH_TIMEOUT.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH=deploy/testbench/bench.sh

# shellcheck source=lib.sh
source deploy/testbench/lib.sh
use_bench run-bench.sh
export MIDATA_KAFKA_BROKERS="$MIDATA_TEST_KAFKA" MIDATA_S3_ENDPOINT="$MIDATA_TEST_S3" MIDATA_S3_REGION="$MIDATA_TEST_S3_REGION"
export AWS_ACCESS_KEY_ID="$MIDATA_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$MIDATA_TEST_S3_SECRET_KEY"
unset MIDATA_CONFIG

if ! command -v kcat >/dev/null; then
	if ((EUID == 0)); then
		echo "run-bench.sh: installing Debian's kcat"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kcat
	else
		echo "run-bench.sh: kcat is missing (apt-get install kcat); the shell figure uses a Go stand-in" >&2
	fi
fi

go build -o bin/midata ./cmd/midata
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
bin/midata bench ${BENCH_FLAGS:-}
