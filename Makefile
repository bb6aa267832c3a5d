# AYB: `make run` starts AYB on a managed PostgreSQL; `make test` runs every test.
# Both install what they need (PostgreSQL, PostGIS, pgTAP, Node.js) on Debian/Ubuntu.

GO        ?= go
BIN       := bin/ayb
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/aybhq/ayb/internal/cli.Version=$(VERSION)
TESTFLAGS ?= -count=1 -timeout 15m

.PHONY: help setup setup-test setup-bench build run test test-go test-sdk fuzz bench schema lint fmt

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: ## install PostgreSQL (and PostGIS) if missing
	@./tests/setup-deps.sh

setup-test: ## install PostgreSQL, PostGIS, pgTAP, pg_prove, Node.js and npm if missing
	@./tests/setup-deps.sh --tests

build: ## build bin/ayb
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/ayb

run: setup build ## start AYB on http://127.0.0.1:8090 with PostgreSQL managed under ./.ayb
	./$(BIN) start

test: setup-test ## run all tests (Go, pgTAP, end-to-end, the TypeScript SDK's) against real PostgreSQL
	$(GO) vet ./...
	$(GO) test $(TESTFLAGS) ./...

test-sdk: setup-test ## the TypeScript SDK's tests alone, against a real server (part of `make test`)
	$(GO) test $(TESTFLAGS) -run TestTypeScriptSDK -v ./tests/e2e

FUZZTIME ?= 60s
fuzz: ## fuzz the filter parser and compiler for $(FUZZTIME) (user input must never panic or reach SQL text)
	tests/fuzz.sh $(GO) internal/filter FuzzParse $(FUZZTIME)

setup-bench: ## what setup-test installs, plus wrk
	@./tests/setup-deps.sh --bench

bench: setup-bench ## run the benchmarks; each prints its figure beside a same-run baseline
	cd tests/bench && $(GO) run . $(BENCHFLAGS)

schema: setup-test ## regenerate sql/schema.sql from the migrations
	AYB_UPDATE_SCHEMA=1 $(GO) test -count=1 -run TestSchemaSnapshot ./internal/dbtest

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
