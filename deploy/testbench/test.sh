#!/usr/bin/env bash
# test.sh: what `make test` (and so CI, through .ci/run) runs.
#
#   1. start the bench (bench.sh start), unless one is already running, in
#      which case it is used and left running; a bench started here is
#      stopped on exit, whatever happens;
#   2. export the variables the tests read (bench.sh env) and
#      MIDATA_TEST_REQUIRE_BENCH=1, so a test cannot pass by skipping the
#      real servers;
#   3. go vet;
#   4. install the readers the tests open releases with, when missing:
#      Debian's chromium (MIDATA_TEST_CHROMIUM) and a Python venv with the
#      pinned pyarrow and duckdb of deploy/testbench/readers/requirements.txt
#      (MIDATA_TEST_PYTHON), kept in the bench cache and rebuilt only when
#      requirements.txt changes;
#   5. go test -race -shuffle=on over the packages;
#   6. fuzz every fuzz target of the packages for FUZZTIME each;
#   7. on failure print the last 80 lines of each server log;
#   8. exit with the status of the first failing step (0 when all pass).
#
# Environment:
#   GOTEST_FLAGS  extra go test flags, e.g. GOTEST_FLAGS='-run TestKafka -v'
#   GOTEST_PKGS   packages to vet and test (default ./...)
#   FUZZTIME      how long to fuzz each fuzz target (go test -fuzztime;
#                 default 10s; 0 skips the fuzzing, not the seed corpora)
#   plus bench.sh's MIDATA_BENCH_DIR, MIDATA_BENCH_CACHE, MIDATA_BENCH_TIMEOUT
#
# Installing chromium (and python3-venv, when python3 lacks venv) needs
# root, as on CI; without root they must already be installed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BENCH=deploy/testbench/bench.sh
PKGS="${GOTEST_PKGS:-./...}"

# shellcheck source=lib.sh
source deploy/testbench/lib.sh
use_bench test.sh logs
export MIDATA_TEST_REQUIRE_BENCH=1

# Each step is one function, run in the order of the list at the bottom; a
# step added later goes in as its own function and its own line there.

go_vet() {
	# shellcheck disable=SC2086 # PKGS is a list of patterns
	go vet $PKGS
}

go_tests() {
	# shellcheck disable=SC2086 # GOTEST_FLAGS and PKGS are lists
	go test -race -shuffle=on -timeout 45m -count=1 ${GOTEST_FLAGS:-} $PKGS
}

# fuzz_tests: every fuzz target of the packages (each func FuzzXxx of
# their _test.go files, found with go list and grep) fuzzed one at a time
# for FUZZTIME (default 10s: about 12 targets, 2-3 minutes with the
# builds; FUZZTIME=0 skips it, go_tests has run the seed corpora already).
# A failing input is written to the package's testdata/fuzz/<target>/:
# keep it there as a seed with the fix. Each new interesting input is
# minimised for at most 100 runs (the default 60 s would stall a 10 s
# run). Go 1.26's fuzz coordinator can end a run on its own deadline with
# a bare "context deadline exceeded" and no failing input
# (go.dev/issue/75804): such a run counts as passed, with a note.
fuzz_tests() {
	local fuzztime="${FUZZTIME:-10s}"
	if [[ $fuzztime == 0 ]]; then
		echo "test.sh: fuzzing skipped (FUZZTIME=0)"
		return 0
	fi
	local log pkg dir files name before after
	local failed=()
	log="$(mktemp)"
	# shellcheck disable=SC2086 # PKGS is a list of patterns
	while read -r pkg dir files; do
		[[ -n $files ]] || continue
		# shellcheck disable=SC2086 # files is a list of names
		for name in $(cd "$dir" && grep -ho '^func Fuzz[A-Za-z0-9_]*(' $files | sed 's/^func //; s/($//' | sort -u); do
			echo "test.sh: fuzzing $pkg $name for $fuzztime"
			before="$(ls "$dir/testdata/fuzz/$name" 2>/dev/null || true)"
			if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 100x "$pkg" 2>&1 | tee "$log"; then
				continue
			fi
			after="$(ls "$dir/testdata/fuzz/$name" 2>/dev/null || true)"
			# The race's whole output: progress, then only these lines.
			if [[ $before == "$after" ]] && grep -qx '    context deadline exceeded' "$log" &&
				! grep -qvE "^(fuzz: |warning: starting with empty corpus|--- FAIL: ${name} \(|    context deadline exceeded\$|FAIL\$|exit status 1\$|FAIL	)" "$log"; then
				echo "test.sh: $name: the fuzz coordinator stopped on its own deadline, no failing input (go.dev/issue/75804): passed"
				continue
			fi
			failed+=("$pkg $name")
		done
	done < <(go list -e -f '{{.ImportPath}} {{.Dir}}{{range .TestGoFiles}} {{.}}{{end}}{{range .XTestGoFiles}} {{.}}{{end}}' $PKGS)
	rm -f "$log"
	if ((${#failed[@]})); then
		printf 'test.sh: fuzz target failed: %s\n' "${failed[@]}" >&2
		return 1
	fi
}

# apt_install PKG...: install Debian packages, running apt-get update once
# per test.sh run. Needs root.
apt_updated=0
apt_install() {
	if ((EUID != 0)); then
		echo "test.sh: need root to apt-get install $*; install them first" >&2
		return 1
	fi
	if ((!apt_updated)); then
		apt-get update -qq
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# browser: Debian's chromium, for the tests that open the HTML summary in a
# headless browser (schemas/release/summary/browser_test.go).
browser() {
	local bin=/usr/bin/chromium
	if [[ ! -x $bin ]]; then
		if ((EUID != 0)); then
			echo "test.sh: $bin is missing and installing it needs root: apt-get install chromium" >&2
			return 1
		fi
		echo "test.sh: installing Debian's chromium"
		apt_install chromium
	fi
	local version
	# (stderr dropped: Debian's launcher script complains about this
	# machine's memory size while it works)
	version="$("$bin" --version 2>/dev/null)" || {
		echo "test.sh: $bin --version failed" >&2
		return 1
	}
	echo "test.sh: $version"
	export MIDATA_TEST_CHROMIUM=$bin
}

# python_readers: a venv with the independent readers (pyarrow, duckdb) that
# deploy/testbench/readers/check_release.py opens a release with
# (pipeline/readers_test.go). It lives in the bench cache and is rebuilt
# only when requirements.txt changes (a stamp in the venv holds its hash,
# written after a complete install) or the venv no longer imports them
# (e.g. its Python is gone).
python_readers() {
	local req=deploy/testbench/readers/requirements.txt
	local venv="${MIDATA_BENCH_CACHE:-${HOME:-/root}/.cache/midata-bench}/pyenv"
	local stamp="$venv/.midata-requirements.sha256"
	local check='import duckdb, pyarrow; print("test.sh: python readers: pyarrow", pyarrow.__version__, "duckdb", duckdb.__version__)'
	local want
	want="$(sha256sum <"$req" | cut -d' ' -f1)"
	if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]] && "$venv/bin/python" -c "$check" 2>/dev/null; then
		export MIDATA_TEST_PYTHON=$venv/bin/python
		return 0
	fi
	echo "test.sh: python readers: creating $venv from $req"
	rm -rf "$venv"
	mkdir -p "$(dirname "$venv")"
	if ! python3 -m venv "$venv"; then
		# Debian's python3 has venv's ensurepip in python3-venv.
		echo "test.sh: python3 cannot make a venv; installing Debian's python3-venv"
		rm -rf "$venv"
		apt_install python3 python3-venv
		/usr/bin/python3 -m venv "$venv"
	fi
	"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
		--only-binary=:all: -r "$req"
	"$venv/bin/python" -c "$check"
	echo "$want" >"$stamp"
	export MIDATA_TEST_PYTHON=$venv/bin/python
}

# partner_tools: Debian's minisign and age, the standard tools a partner
# checks a signature and decrypts a bundle with; the tests run them as an
# independent check of midata's own (MIDATA_TEST_MINISIGN, MIDATA_TEST_AGE).
partner_tools() {
	local missing=()
	command -v minisign >/dev/null || missing+=(minisign)
	command -v age >/dev/null || missing+=(age)
	if ((${#missing[@]})); then
		echo "test.sh: installing Debian's ${missing[*]}"
		apt_install "${missing[@]}"
	fi
	export MIDATA_TEST_MINISIGN
	MIDATA_TEST_MINISIGN="$(command -v minisign)"
	export MIDATA_TEST_AGE
	MIDATA_TEST_AGE="$(command -v age)"
}

# axe: axe-core from the npm registry, which the page tests run in
# Chromium over every page (pipeline/web); kept in the bench cache, at the
# version pinned here.
axe() {
	local version=4.14.1
	local dir="${MIDATA_BENCH_CACHE:-${HOME:-/root}/.cache/midata-bench}/axe-core-$version"
	local js="$dir/node_modules/axe-core/axe.min.js"
	if [[ ! -f $js ]]; then
		echo "test.sh: installing axe-core $version from the npm registry"
		mkdir -p "$dir"
		npm install --prefix "$dir" --no-audit --no-fund --silent "axe-core@$version" >/dev/null
	fi
	echo "test.sh: axe-core $version"
	export MIDATA_TEST_AXE=$js
}

go_vet
browser
axe
python_readers
partner_tools
go_tests
fuzz_tests
