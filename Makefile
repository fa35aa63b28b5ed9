# Gallerist. `make run` starts the server; `make test` runs every test.
# Both install what they need from Debian's packages when it is missing (as root), or say
# exactly what to install.

GO      ?= go
BIN     ?= bin/gallerist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gallerist/gallerist/server.Version=$(VERSION)

.PHONY: all run test build deps openapi vet fmt clean

all: build

## deps: install the system tools tests and videos need (ffmpeg, heif-enc) when missing
deps:
	@.ci/install-deps

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -tags nodynamic -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/gallerist

## run: build and serve on 127.0.0.1:8080 with ./data
run: deps build
	./$(BIN) serve

## test: vet and every test, with the race detector off (2-core machines); fails on a stale openapi.json
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

## bench: the benchmark suite (about 20 min; BENCH_FLAGS=-quick for about 6): table + bench/results/latest.json
.PHONY: bench
bench: build
	@bench/install-deps
	$(GO) run ./bench -bin $(BIN) $(BENCH_FLAGS)

## openapi: regenerate openapi.json from the route table and the Go types
openapi:
	$(GO) run ./cmd/gallerist openapi -o openapi.json

fmt:
	gofmt -w cmd server storage media

clean:
	rm -rf bin
