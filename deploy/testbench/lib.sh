# lib.sh: sourced by test.sh, run-bench.sh and drills.sh, from the
# repository's root, with BENCH set to deploy/testbench/bench.sh.
#
# use_bench NAME [logs]: use the bench when one runs already (it is left
# running), else start it and stop it again when the script exits,
# whatever happens; with "logs", a failing exit first prints the last 80
# lines of each server log. Then export the variables the tests read
# (bench.sh env). NAME prefixes what it says.

use_bench() {
	BENCH_CALLER=$1
	BENCH_LOGS=${2:-}
	BENCH_STARTED=0
	trap _bench_finish EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	if bash "$BENCH" status >/dev/null 2>&1; then
		echo "$BENCH_CALLER: using the bench that is already running (left running afterwards)"
	else
		BENCH_STARTED=1
		bash "$BENCH" start
	fi
	eval "$(bash "$BENCH" env)"
}

_bench_finish() {
	local status=$?
	if ((status != 0)) && [[ $BENCH_LOGS == logs ]]; then
		echo "$BENCH_CALLER: failed (exit $status); server logs follow" >&2
		bash "$BENCH" logs 80 >&2 || true
	fi
	if ((BENCH_STARTED)); then
		bash "$BENCH" stop || true
	fi
	exit "$status"
}
