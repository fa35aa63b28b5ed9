// Package media turns uploaded files into what the gallery shows: it
// recognises the format from the bytes, reads what a file says about itself
// (dimensions, EXIF capture time and camera, video duration) and writes the
// display copy and the thumbnail as plain JPEGs. Protect writes watermarked
// copies of a chosen size for galleries that guard their pictures; its text
// is drawn with the embedded Go Bold font (golang.org/x/image/font/gofont),
// so no font file is needed at run time.
//
// It works on paths and writers only. It must not touch the database, know
// about HTTP, or import any other package of the project; callers decide
// where bytes come from and go to. It never sees client file names: every
// path it is given, and so every path in its errors, is one we generated.
//
// # Safety
//
// Uploads are untrusted, so the work is bounded before it starts:
//   - Probe reads headers only and refuses a declared pixel count above
//     Config.MaxPixels (ErrTooManyPixels) before any pixel is decoded; a
//     60000×60000 PNG of a few KB is refused in microseconds. Derivatives
//     checks the header again before it decodes.
//   - Decoding costs memory in proportion to pixels; callers admit each job
//     through a Limiter with the DecodeCost of its Info.
//   - ffmpeg and ffprobe only get our own paths, prefixed with "file:" and
//     restricted with -protocol_whitelist file, so a crafted container cannot
//     make them open URLs or other protocols (concat:, http:, playlists).
//
// # Decoders
//
//   - JPEG: with cgo (and without the nojpegturbo tag), the system's
//     libjpeg-turbo through a thin wrapper of our own (jpegscale_cgo.go;
//     Debian's libjpeg62-turbo-dev, linked statically by `make build` and
//     the Dockerfile). It decodes at the smallest n/8 scale whose long edge
//     is still at least the display size, in the DCT domain, so a 24 MP
//     photo is never built at full size; it also encodes the derivatives.
//     Whenever libjpeg refuses a file, warns that it is damaged, or meets
//     CMYK, the standard library decodes it at full size and decides. Built
//     with CGO_ENABLED=0 (or -tags nojpegturbo), the standard library does
//     everything. JPEGCodec says which is in the build.
//   - PNG, GIF: the standard library. GIF gives its first frame.
//   - WebP: golang.org/x/image/webp (decode only).
//   - HEIC/HEIF: github.com/gen2brain/heic v0.7.1, a Rust decoder compiled to
//     WebAssembly and run by wazero, with no cgo. Without the nodynamic build
//     tag that module first tries to dlopen an unversioned libheif.so (only
//     installed by libheif-dev) at init and uses it when found, and its
//     DecodeConfig is known to fail with Debian 12's libheif 1.15. So that
//     behaviour does not depend on build tags or on what is installed, this
//     package sets heic.ForceWasmMode at init: decoding always uses the
//     embedded WebAssembly. The nodynamic tag is then optional for
//     decoding, but it matters for linking: without it, heic's purego makes
//     even a CGO_ENABLED=0 build a dynamically linked executable (it needs
//     /lib64/ld-linux-x86-64.so.2 to start, so it cannot run from a scratch
//     image) that tries dlopen("libheif.so") at start-up. Build with
//     -tags nodynamic for a truly static binary. The first decode in a
//     process compiles the module: 0.15 s here, several seconds under load;
//     Warm does it ahead of time. Probe never calls the decoder: it reads the
//     size (ispe), crop (clap) and rotation (irot) of the primary item from
//     the container itself.
//   - Video: ffprobe (run with os/exec, JSON output) for Probe, and ffmpeg
//     through github.com/u2takey/ffmpeg-go for the poster frame.
//
// # Orientation
//
// JPEG: the EXIF Orientation is applied once, to the display copy after it
// is resized. HEIC/HEIF: the container's irot/imir are authoritative and the
// decoder applies them; the EXIF Orientation that phones also write is
// ignored, or the picture would be turned twice. PNG, GIF and WebP: EXIF
// orientation is not read. Video: ffmpeg applies the display matrix.
//
// # Metadata
//
// EXIF comes from github.com/evanoberholster/imagemeta v0.3.1 (pinned: its
// master branch diverged). Dimensions never come from EXIF, which is often
// wrong, but from the image header. Derivatives are re-encoded from pixels,
// so they carry no EXIF, GPS, ICC profile or comments.
package media
