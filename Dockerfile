# Gallerist container image.
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t gallerist .
#   docker run -d -p 127.0.0.1:8080:8080 -v gallerist-data:/data --stop-timeout 45 gallerist
# See docs/install.md.

# Build stage: a static binary, as `make build` makes it. SQLite and HEIC decoding are
# pure Go; the nodynamic tag keeps the HEIC package from linking the C library to dlopen
# libheif (see go doc ./media). cgo links one C library, libjpeg-turbo, statically, for
# DCT-scaled JPEG decoding (media/jpegscale_cgo.go); netgo and osusergo keep the static
# glibc out of name and user lookups. For a build without any C, use
# CGO_ENABLED=0 go build -tags nodynamic (JPEGs are then decoded by image/jpeg).
FROM golang:1.26-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjpeg62-turbo-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Download modules first, so this layer is cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -tags nodynamic,netgo,osusergo -trimpath \
      -ldflags "-s -w -X github.com/gallerist/gallerist/server.Version=${VERSION} -linkmode external -extldflags -static" \
      -o /out/gallerist ./cmd/gallerist

# Runtime stage: ffmpeg (with ffprobe) for videos, and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 gallerist \
 && useradd --system --uid 10001 --gid gallerist --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin gallerist \
 && mkdir -p /data \
 && chown gallerist:gallerist /data \
 && chmod 0750 /data
COPY --from=build /out/gallerist /usr/local/bin/gallerist
ENV GALLERIST_DATA_DIR=/data \
    GALLERIST_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# No HEALTHCHECK: the image has no curl and the binary has no health command. Check
# GET /healthz (liveness) and GET /readyz (readiness) from outside; see docs/install.md.
USER gallerist
# docker stop sends SIGTERM; the server then drains for up to GALLERIST_SHUTDOWN_TIMEOUT
# (30s), so run the container with --stop-timeout 45 (Docker's default is 10s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gallerist"]
CMD ["serve"]
