# midata: build, run and test. `make test` is what CI runs (.ci/run).
#
#   make test        start the bench (Kafka 127.0.0.1:19092, versitygw
#                    127.0.0.1:17070), go vet, go test -race, stop the bench
#   make bench       `midata bench` against the bench (started when not
#                    running): the table of speed and memory figures and
#                    bench.json; BENCH_FLAGS='--scale 0.1 --shapes typical'
#   make drills      the long cases kept out of make test (see below)
#   make bench-up    start the bench for a dev loop, then:
#                    eval "$$(deploy/testbench/bench.sh env)" && go test ./yourpkg/...
#   make bench-down  stop it
#   make build       build bin/midata
#   make dev         run midata in dev mode
#   make lint        gofmt and go vet
#
# make test takes GOTEST_FLAGS (extra go test flags) and GOTEST_PKGS
# (packages, default ./...), e.g. make test GOTEST_PKGS=./deploy/testbench/...

GO ?= go

.PHONY: test bench bench-up bench-down bench-status bench-logs build dev lint

test:
	bash deploy/testbench/test.sh

bench:
	bash deploy/testbench/run-bench.sh

bench-up:
	bash deploy/testbench/bench.sh start

bench-down:
	bash deploy/testbench/bench.sh stop

bench-status:
	bash deploy/testbench/bench.sh status

bench-logs:
	bash deploy/testbench/bench.sh logs

build:
	$(GO) build -o bin/midata ./cmd/midata

dev:
	$(GO) run ./cmd/midata dev

lint:
	@out="$$(gofmt -l .)"; \
	if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# make drills runs the long cases kept out of make test (deploy/testbench/
# drills.sh, about 10 minutes; it starts the bench when it is not running):
# a run of 1,000,000 releases through the ledger, then the fault drills at
# full length (MIDATA_DRILLS_LONG=1). .ci/run runs it after make test.
.PHONY: drills
drills:
	bash deploy/testbench/drills.sh
