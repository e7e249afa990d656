# passivedns: build, test and run. `make test` works from a fresh clone on Debian with Go at
# /usr/local/go: it installs what the tests need (scripts/deps.sh) first.

SHELL := /bin/bash
.DEFAULT_GOAL := test

# Go is at /usr/local/go on the project's machines but not always on PATH (CI, sudo, cron).
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif
GO ?= go

.PHONY: deps build test cover fmt run bench clean

## deps: install clickhouse-server, DNS tools and libchdb.so (quick when present)
deps:
	bash scripts/deps.sh

## build: the CoreDNS binary with the passivedns plugin, ./coredns
build:
	$(GO) build -o coredns ./cmd/coredns

## test: vet and all tests with the race detector, one package at a time (the fault tests
## measure latency and must not share the two cores with the benchmark smoke run)
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -p 1 -timeout 40m ./...

## cover: like test, with a coverage profile in cover.out
cover: deps
	$(GO) test -race -count=1 -timeout 40m -coverprofile=cover.out ./...
	$(GO) tool cover -func=cover.out | tail -n 1

## fmt: fail when a file is not gofmt -s clean
fmt:
	@out=$$(gofmt -l -s .); if [[ -n $$out ]]; then echo "gofmt -s needed:"; echo "$$out"; exit 1; fi

## run: ClickHouse and CoreDNS with the plugin, state in .run/
run:
	bash scripts/run.sh

## bench: the benchmarks in scripts/bench.sh, when there are any
bench:
	@if [[ -f scripts/bench.sh ]]; then bash scripts/bench.sh; else echo "bench: no scripts/bench.sh yet"; fi

clean:
	rm -f coredns cover.out
