// Package mediatest builds media fixtures for tests, in memory where it can:
// JPEGs with EXIF written by its own minimal TIFF writer, PNG and GIF with
// transparency, a PNG decompression bomb, and, through ffmpeg and heif-enc,
// videos, WebP and HEIC files in a test's temporary folder.
//
// It is imported by tests of several packages, so it is an ordinary package
// rather than a _test file. It must not be imported by non-test code.
//
// Tools that a fixture needs are never skipped over: when ffmpeg or heif-enc
// is missing the test fails with the apt-get line that installs it.
package mediatest
