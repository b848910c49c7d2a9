#!/usr/bin/env bash
# bench.sh: the local test bench of midata, a real Apache Kafka broker and a
# versitygw S3 server, both on 127.0.0.1 only.
#
#   bench.sh start    install what is missing, start both servers, wait until ready
#   bench.sh stop     stop both servers and wait for them to exit
#   bench.sh status   say what runs; exit 0 only when both servers run
#   bench.sh logs [N] print the last N (default 80) lines of each server log
#   bench.sh env      print the export lines the tests read (eval "$(bench.sh env)"),
#                     among them MIDATA_TEST_KAFKA_LIBS (the Kafka jars: a drill
#                     starts a private broker of its own from them, to kill and
#                     restart) and MIDATA_TEST_S3_ROOT (the folder versitygw
#                     serves: a drill ages objects there)
#
# Fixed ports (all on 127.0.0.1):
#   19092  Kafka PLAINTEXT listener (clients)         MIDATA_TEST_KAFKA=127.0.0.1:19092
#   19093  Kafka KRaft controller listener (internal)
#   19094  Kafka SASL_SSL listener                    MIDATA_TEST_KAFKA_SASL=127.0.0.1:19094
#          TLS: a CA and broker certificate made by deploy/testbench/certs on
#          every start (MIDATA_TEST_KAFKA_CA names the CA's PEM file); SASL:
#          PLAIN user midata-plain, SCRAM-SHA-256 and SCRAM-SHA-512 user
#          midata-scram (passwords in `bench.sh env`)
#   17070  versitygw S3 API, path-style, region us-east-1
#                                                     MIDATA_TEST_S3=http://127.0.0.1:17070
#          S3 root credentials: access key "midata", secret "midata-secret-key"
#
# Kafka: Apache Kafka 3.9.1 (kafka_2.13), a single KRaft node that is broker
# and controller at once, started with `java -cp` from jars that Maven fetches
# once (deploy/testbench/pom.xml) into the cache. Topics are created
# automatically on first use with 1 partition; internal topics have
# replication factor 1; consumer groups start without the initial rebalance delay.
# versitygw: v1.8.0, `go install`ed into $(go env GOPATH)/bin when missing,
# serving the posix backend from a folder in the state dir, with HTTP
# keep-alive on.
#
# Every start begins from empty storage (a freshly formatted Kafka log dir with
# a random cluster id, an empty S3 root). Readiness is polled with a deadline.
#
# Environment:
#   MIDATA_BENCH_DIR      state: data, configs, logs, pid files (default /tmp/midata-bench)
#   MIDATA_BENCH_CACHE    downloads kept between runs (default $HOME/.cache/midata-bench);
#                         the Kafka jars live in $MIDATA_BENCH_CACHE/kafka-3.9.1/libs
#   MIDATA_BENCH_TIMEOUT  seconds to wait for each server to become ready (default 120)
#   JAVA_HOME             Java 17+ to run Kafka with (default: java on PATH)
#
# Needs: bash, java 17+, mvn (first run only), go (versitygw install), curl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

BENCH_DIR="${MIDATA_BENCH_DIR:-/tmp/midata-bench}"
CACHE_DIR="${MIDATA_BENCH_CACHE:-${HOME:-/root}/.cache/midata-bench}"
TIMEOUT="${MIDATA_BENCH_TIMEOUT:-120}"

KAFKA_VERSION=3.9.1
KAFKA_HOST=127.0.0.1
KAFKA_PORT=19092
KAFKA_CONTROLLER_PORT=19093
KAFKA_SASL_PORT=19094
KAFKA_PLAIN_USER=midata-plain
KAFKA_PLAIN_PASSWORD=midata-plain-secret
KAFKA_SCRAM_USER=midata-scram
KAFKA_SCRAM_PASSWORD=midata-scram-secret
KAFKA_HEAP="-Xms256m -Xmx768m"
KAFKA_LIBS="$CACHE_DIR/kafka-$KAFKA_VERSION/libs"

VGW_VERSION=v1.8.0
VGW_MODULE=github.com/versity/versitygw
S3_HOST=127.0.0.1
S3_PORT=17070
S3_ACCESS_KEY=midata
S3_SECRET_KEY=midata-secret-key
S3_REGION=us-east-1

KAFKA_DIR="$BENCH_DIR/kafka"
KAFKA_PID="$BENCH_DIR/kafka.pid"
KAFKA_LOG="$KAFKA_DIR/logs/server.log"   # written by log4j
KAFKA_OUT="$KAFKA_DIR/logs/stdout.log"   # the JVM's own stdout/stderr
S3_DIR="$BENCH_DIR/s3"
S3_PID="$BENCH_DIR/versitygw.pid"
S3_LOG="$S3_DIR/versitygw.log"

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

java_bin() {
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		echo "$JAVA_HOME/bin/java"
	else
		command -v java || die "java not found: install Java 17+ or set JAVA_HOME"
	fi
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# pid_of FILE PATTERN: print the pid recorded in FILE when that process is
# alive and its command line matches PATTERN (guards against recycled pids).
pid_of() {
	local file=$1 pattern=$2 pid
	[[ -f "$file" ]] || return 1
	pid="$(cat "$file")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/cmdline" ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern" || return 1
	echo "$pid"
}

kafka_pid() { pid_of "$KAFKA_PID" 'kafka.Kafka'; }
s3_pid() { pid_of "$S3_PID" 'versitygw'; }

# wait_ready NAME PIDFILE CHECKFN LOG: poll CHECKFN until it succeeds, the
# process just started (pid in PIDFILE) dies, or TIMEOUT seconds pass. It
# checks liveness with kill -0, not pid_of: for a moment after the fork the
# child's command line is still bash's.
wait_ready() {
	local name=$1 pid check=$3 logfile=$4
	pid="$(cat "$2")"
	local deadline=$((SECONDS + TIMEOUT))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited during start; last lines of $logfile:"
			tail -n 40 "$logfile" >&2 || true
			return 1
		fi
		if "$check"; then
			return 0
		fi
		sleep 0.2
	done
	log "$name not ready after ${TIMEOUT}s; last lines of $logfile:"
	tail -n 40 "$logfile" >&2 || true
	return 1
}

# ---------------------------------------------------------------- Kafka

kafka_jars() {
	local stamp="$KAFKA_LIBS/.complete" want
	want="$(sha256sum "$HERE/pom.xml" | cut -d' ' -f1)"
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch the Kafka jars"
	log "fetching Kafka $KAFKA_VERSION jars into $KAFKA_LIBS (once)"
	local t0=$SECONDS tmp="$KAFKA_LIBS.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	if ! mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$tmp" -DincludeScope=runtime >"$CACHE_DIR/mvn.log" 2>&1; then
		tail -n 40 "$CACHE_DIR/mvn.log" >&2
		rm -rf "$tmp"
		die "mvn could not fetch the Kafka jars (log: $CACHE_DIR/mvn.log)"
	fi
	echo "$want" >"$tmp/.complete"
	rm -rf "$KAFKA_LIBS"
	mv "$tmp" "$KAFKA_LIBS"
	log "fetched $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - t0))s"
}

# Kafka cluster ids are 16 random bytes in URL-safe base64 without padding.
random_cluster_id() {
	head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'
}

kafka_configure() {
	rm -rf "$KAFKA_DIR"
	mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
	cat >"$KAFKA_DIR/server.properties" <<EOF
# Written by deploy/testbench/bench.sh; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT,SASL_SSL://$KAFKA_HOST:$KAFKA_SASL_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,SASL_SSL://$KAFKA_HOST:$KAFKA_SASL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL

# The SASL_SSL listener: TLS with the bench's own CA, then SASL.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$KAFKA_DIR/tls/broker.pem
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_PLAIN_USER="$KAFKA_PLAIN_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$KAFKA_DIR/data

auto.create.topics.enable=true
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0

# Test data is historical (booked months before today, with Kafka
# timestamps to match): time-based retention would delete it in the middle
# of a test, so keep everything.
log.retention.ms=-1

# A small machine: few threads.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
EOF
	cat >"$KAFKA_DIR/log4j.properties" <<EOF
# Written by deploy/testbench/bench.sh: every log line goes to one file.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$KAFKA_LOG
log4j.appender.file.Append=true
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.network.RequestChannel\$=WARN
log4j.logger.state.change.logger=WARN
# The full broker config is dumped twice at start: hundreds of lines that
# would push the useful ones out of the tail printed on failure.
log4j.logger.kafka.server.KafkaConfig=WARN
EOF
}

# kafka_cmd ARGS...: set JAVA_CMD to the java command line that runs ARGS
# (a main class and its arguments) on the cached Kafka jars.
kafka_cmd() {
	JAVA_CMD=("$(java_bin)")
	# shellcheck disable=SC2206 # KAFKA_HEAP is a list of flags
	JAVA_CMD+=($KAFKA_HEAP)
	JAVA_CMD+=(-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
		-Djava.awt.headless=true
		"-Dlog4j.configuration=file:$KAFKA_DIR/log4j.properties"
		"-Dkafka.logs.dir=$KAFKA_DIR/logs"
		-cp "$KAFKA_LIBS/*" "$@")
}

kafka_ready() {
	grep -q 'Kafka Server started' "$KAFKA_LOG" 2>/dev/null && port_open "$KAFKA_HOST" "$KAFKA_PORT"
}

kafka_start() {
	if kafka_pid >/dev/null; then
		log "kafka already running (pid $(kafka_pid))"
		return 0
	fi
	for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT"; do
		if port_open "$KAFKA_HOST" "$port"; then
			die "port $KAFKA_HOST:$port is taken by a process this bench did not start (another MIDATA_BENCH_DIR?)"
		fi
	done
	kafka_jars
	kafka_configure
	local t0=$SECONDS cluster_id
	cluster_id="$(random_cluster_id)"
	(cd "$HERE/../.." && GOFLAGS=-buildvcs=false go run ./deploy/testbench/certs "$KAFKA_DIR/tls") ||
		die "could not make the bench's TLS certificates (deploy/testbench/certs)"
	kafka_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
		--add-scram "SCRAM-SHA-256=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]" \
		--add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$KAFKA_SCRAM_PASSWORD]"
	if ! "${JAVA_CMD[@]}" </dev/null >"$KAFKA_DIR/logs/format.log" 2>&1; then
		cat "$KAFKA_DIR/logs/format.log" >&2
		die "kafka storage format failed"
	fi
	log "starting kafka $KAFKA_VERSION on $KAFKA_HOST:$KAFKA_PORT (cluster id $cluster_id)"
	# setsid: the broker leaves the caller's process group, so a Ctrl-C in the
	# terminal running `make test` reaches test.sh's trap (which stops the
	# bench in order), not the broker directly.
	kafka_cmd kafka.Kafka "$KAFKA_DIR/server.properties"
	setsid "${JAVA_CMD[@]}" </dev/null >"$KAFKA_OUT" 2>&1 9>&- &
	echo $! >"$KAFKA_PID"
	if ! wait_ready kafka "$KAFKA_PID" kafka_ready "$KAFKA_LOG"; then
		kafka_stop
		return 1
	fi
	log "kafka ready in $((SECONDS - t0))s (pid $(kafka_pid))"
}

# ---------------------------------------------------------------- versitygw

vgw_bin() {
	local gobin
	gobin="$(go env GOBIN)"
	[[ -n "$gobin" ]] || gobin="$(go env GOPATH | cut -d: -f1)/bin"
	echo "$gobin/versitygw"
}

vgw_install() {
	command -v go >/dev/null || die "go not found: it is needed to install versitygw"
	local bin
	bin="$(vgw_bin)"
	if [[ -x "$bin" ]] && go version -m "$bin" 2>/dev/null |
		grep -qE "^[[:space:]]+mod[[:space:]]+${VGW_MODULE}[[:space:]]+${VGW_VERSION}[[:space:]]"; then
		return 0
	fi
	log "installing versitygw $VGW_VERSION into $(dirname "$bin") (once; a few minutes on 2 cores)"
	local t0=$SECONDS
	# Outside the repo, so that the repo's go.mod and GOFLAGS play no part.
	(cd / && GOFLAGS="" go install "$VGW_MODULE/cmd/versitygw@$VGW_VERSION") ||
		die "go install versitygw@$VGW_VERSION failed"
	log "installed versitygw in $((SECONDS - t0))s"
}

s3_ready() {
	# Any HTTP answer (403 for an anonymous request) means the server serves.
	local code
	code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$S3_HOST:$S3_PORT/" 2>/dev/null)" || return 1
	[[ "$code" != "000" ]]
}

s3_start() {
	if s3_pid >/dev/null; then
		log "versitygw already running (pid $(s3_pid))"
		return 0
	fi
	if port_open "$S3_HOST" "$S3_PORT"; then
		die "port $S3_HOST:$S3_PORT is taken by a process this bench did not start (another MIDATA_BENCH_DIR?)"
	fi
	command -v curl >/dev/null || die "curl not found: it is needed to poll versitygw"
	vgw_install
	rm -rf "$S3_DIR"
	mkdir -p "$S3_DIR/root"
	local t0=$SECONDS
	log "starting versitygw $VGW_VERSION on $S3_HOST:$S3_PORT"
	# --keep-alive: without it versitygw answers every request with
	# "Connection: close", so each PUT dials a new connection (what no S3
	# service does, and what the bench would then measure).
	setsid "$(vgw_bin)" --port "$S3_HOST:$S3_PORT" --keep-alive \
		--access "$S3_ACCESS_KEY" --secret "$S3_SECRET_KEY" --region "$S3_REGION" \
		posix "$S3_DIR/root" </dev/null >"$S3_LOG" 2>&1 9>&- &
	echo $! >"$S3_PID"
	if ! wait_ready versitygw "$S3_PID" s3_ready "$S3_LOG"; then
		s3_stop
		return 1
	fi
	log "versitygw ready in $((SECONDS - t0))s (pid $(s3_pid))"
}

# ---------------------------------------------------------------- stop

# stop_pid NAME PIDFN PIDFILE: TERM, wait up to 30s, then KILL.
stop_pid() {
	local name=$1 pidfn=$2 pidfile=$3 pid
	if ! pid="$("$pidfn")"; then
		rm -f "$pidfile"
		return 0
	fi
	log "stopping $name (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	local deadline=$((SECONDS + 30))
	while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name did not exit in 30s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$pidfile"
}

kafka_stop() { stop_pid kafka kafka_pid "$KAFKA_PID"; }
s3_stop() { stop_pid versitygw s3_pid "$S3_PID"; }

# ---------------------------------------------------------------- commands

# lock: one start/stop at a time per state dir.
lock() {
	mkdir -p "$BENCH_DIR" "$CACHE_DIR"
	exec 9>"$BENCH_DIR/.lock"
	flock -w "$((TIMEOUT + 60))" 9 || die "another bench.sh holds $BENCH_DIR/.lock"
}

cmd_start() {
	lock
	local t0=$SECONDS
	kafka_start
	s3_start
	log "bench up in $((SECONDS - t0))s; state in $BENCH_DIR"
}

cmd_stop() {
	lock
	s3_stop
	kafka_stop
}

cmd_status() {
	local ok=0 pid
	if pid="$(kafka_pid)"; then
		echo "kafka      running  pid $pid  $KAFKA_HOST:$KAFKA_PORT  log $KAFKA_LOG"
	else
		echo "kafka      stopped"
		ok=1
	fi
	if pid="$(s3_pid)"; then
		echo "versitygw  running  pid $pid  http://$S3_HOST:$S3_PORT  log $S3_LOG"
	else
		echo "versitygw  stopped"
		ok=1
	fi
	return $ok
}

cmd_logs() {
	local n="${1:-80}"
	local f
	for f in "$KAFKA_LOG" "$KAFKA_OUT" "$S3_LOG"; do
		[[ -s "$f" ]] || continue
		echo "==== last $n lines of $f"
		tail -n "$n" "$f"
	done
}

cmd_env() {
	cat <<EOF
export MIDATA_TEST_KAFKA=$KAFKA_HOST:$KAFKA_PORT
export MIDATA_TEST_KAFKA_SASL=$KAFKA_HOST:$KAFKA_SASL_PORT
export MIDATA_TEST_KAFKA_CA=$KAFKA_DIR/tls/ca.pem
export MIDATA_TEST_KAFKA_PLAIN=$KAFKA_PLAIN_USER:$KAFKA_PLAIN_PASSWORD
export MIDATA_TEST_KAFKA_SCRAM=$KAFKA_SCRAM_USER:$KAFKA_SCRAM_PASSWORD
export MIDATA_TEST_S3=http://$S3_HOST:$S3_PORT
export MIDATA_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
export MIDATA_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
export MIDATA_TEST_S3_REGION=$S3_REGION
export MIDATA_TEST_S3_ROOT=$S3_DIR/root
export MIDATA_TEST_KAFKA_LIBS=$KAFKA_LIBS
EOF
}

usage() {
	sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
logs) cmd_logs "${2:-80}" ;;
env) cmd_env ;;
*) usage ;;
esac
