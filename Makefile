# Gallerist. `make run` starts the server; `make test` runs every test.
# Both install what they need from Debian's packages when it is missing (as root), or say
# exactly what to install.

GO      ?= go
BIN     ?= bin/gallerist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/gallerist/gallerist/server.Version=$(VERSION)

.PHONY: all run test build deps deps-run openapi vet fmt clean

all: build

## deps: install the system tools the tests need (ffmpeg, libjpeg, heif-enc, nginx, chromium) when missing
deps:
	@.ci/install-deps test

## deps-run: install only what the server needs (ffmpeg, libjpeg) when missing
deps-run:
	@.ci/install-deps run

# The binary is always static. When a C compiler and the static libc and libjpeg
# (libjpeg62-turbo-dev, which .ci/install-deps installs) are there, it links libjpeg-turbo
# through cgo for DCT-scaled JPEG decoding (media/jpegscale_cgo.go, about 3x faster
# thumbnails); otherwise, with PURE_GO=1, or when GOOS/GOARCH name another machine, it
# is the pure-Go build (CGO_ENABLED=0).
CC       ?= cc
PURE_GO  ?=
CROSS    := $(filter-out $(shell $(GO) env GOHOSTOS GOHOSTARCH),$(shell $(GO) env GOOS GOARCH))
JPEG_A   := $(if $(PURE_GO)$(CROSS),,$(filter /%,$(shell $(CC) -print-file-name=libjpeg.a 2>/dev/null)))
LIBC_A   := $(if $(JPEG_A),$(filter /%,$(shell $(CC) -print-file-name=libc.a 2>/dev/null)))
ifneq ($(and $(JPEG_A),$(LIBC_A),$(wildcard /usr/include/jpeglib.h)),)
BUILD_ENV   := CGO_ENABLED=1
BUILD_TAGS  := nodynamic,netgo,osusergo
BUILD_LINK  := -linkmode external -extldflags "-static"
else
BUILD_ENV   := CGO_ENABLED=0
BUILD_TAGS  := nodynamic
BUILD_LINK  :=
endif

## build: a static binary in bin/ (with libjpeg-turbo when it can be linked; PURE_GO=1 for none)
build:
	$(BUILD_ENV) $(GO) build -tags $(BUILD_TAGS) -trimpath -ldflags '$(LDFLAGS) $(BUILD_LINK)' -o $(BIN) ./cmd/gallerist

## run: build and serve on 127.0.0.1:8080 with ./data
run: deps-run build
	./$(BIN) serve

## test: vet and every test, with the race detector off (2-core machines); fails on a stale openapi.json
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

## bench: the benchmark suite (about 20 min; BENCH_FLAGS=-quick for about 6; PURE_GO=1 measures the pure-Go build): table + bench/results/latest.json
.PHONY: bench
bench: build
	@bench/install-deps
	$(BUILD_ENV) $(GO) run ./bench -bin $(BIN) $(BENCH_FLAGS)

## openapi: regenerate openapi.json from the route table and the Go types
openapi:
	$(GO) run ./cmd/gallerist openapi -o openapi.json

fmt:
	gofmt -w cmd server storage media

clean:
	rm -rf bin
