package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage/blob"
)

// Bounds of the thumbnail cache: at most thumbCacheMaxBytes of thumbnails in memory, none
// larger than thumbCacheMaxEntry (bigger ones are served from the file each time), and at
// most thumbCacheMaxEntries entries. A full cache is emptied.
const (
	thumbCacheMaxBytes   = 32 << 20
	thumbCacheMaxEntry   = 256 << 10
	thumbCacheMaxEntries = 4096
)

// thumbs is the process's thumbnail cache.
var thumbs = newThumbCache()

// thumbCache keeps the bytes (or, behind X-Accel-Redirect, only the size and time) of
// thumbnails served recently, so a thumbnail request costs no open, stat, read or close.
//
// It is safe because a thumbnail never changes once written: its blob key names the
// photo (event and stem) and the entry's key adds the original's SHA-256, of which the
// thumbnail is a pure function. And the cache is consulted only after the request has
// been authorized and the photo looked up in the database's current state (storage's
// snapshot cache, emptied by any commit): a deleted or hidden photo, or a revoked guest,
// is refused before the cache is touched. A failed open or stat removes the entry.
type thumbCache struct {
	mu      sync.RWMutex
	entries map[string]*cachedThumb
	size    int64
}

// cachedThumb is one cached thumbnail: its bytes (nil when only its info is kept) and
// its size and modification time.
type cachedThumb struct {
	data []byte
	info blob.Info
	// The header values of a full answer, formatted once.
	lastModified []string
	length       []string
}

func newCachedThumb(data []byte, info blob.Info) *cachedThumb {
	return &cachedThumb{data: data, info: info,
		lastModified: []string{info.ModTime.UTC().Format(http.TimeFormat)},
		length:       []string{strconv.FormatInt(info.Size, 10)}}
}

func newThumbCache() *thumbCache { return &thumbCache{entries: make(map[string]*cachedThumb)} }

// thumbCacheKey names a thumbnail of one blob store by its blob key and the hash of
// the original it was made from.
func thumbCacheKey(root, key, sha string) string {
	return root + "\x00" + key + "\x00" + sha
}

func (c *thumbCache) get(k string) *cachedThumb {
	c.mu.RLock()
	e := c.entries[k]
	c.mu.RUnlock()
	return e
}

func (c *thumbCache) put(k string, e *cachedThumb) {
	n := int64(len(e.data))
	if n > thumbCacheMaxEntry {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.size -= int64(len(old.data))
	}
	if c.size+n > thumbCacheMaxBytes || len(c.entries) >= thumbCacheMaxEntries {
		clear(c.entries)
		c.size = 0
	}
	c.entries[k] = e
	c.size += n
}

func (c *thumbCache) drop(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.entries[k]; old != nil {
		c.size -= int64(len(old.data))
		delete(c.entries, k)
	}
}

// len tells how many thumbnails are cached (for tests).
func (c *thumbCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}

// Header values of every thumbnail answer, built once and shared (never modified in place).
var (
	hdrThumbCacheControl = []string{fmt.Sprintf("private, max-age=%d", int(thumbMaxAge.Seconds()))}
	hdrImageJPEG         = []string{"image/jpeg"}
	hdrBytes             = []string{"bytes"}
)

// hasRangeOrCondition tells whether a request asks for a range or is conditional, which
// http.ServeContent answers.
func hasRangeOrCondition(h http.Header) bool {
	for _, k := range [...]string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if len(h[k]) > 0 {
			return true
		}
	}
	return false
}

// loadThumb reads a thumbnail into a cache entry: its bytes, or with X-Accel-Redirect
// only its info. A thumbnail too large to cache is not read (nil, nil).
func (s *Server) loadThumb(ctx context.Context, key string) (*cachedThumb, error) {
	if s.cfg.AccelRedirect != "" {
		info, err := s.blobs.Stat(ctx, key)
		if err != nil {
			return nil, err
		}
		return newCachedThumb(nil, info), nil
	}
	r, info, err := s.blobs.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if info.Size > thumbCacheMaxEntry {
		return nil, nil
	}
	data := make([]byte, info.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return newCachedThumb(data, info), nil
}

// serveCachedThumb answers a thumbnail from a cache entry with the same headers and
// semantics as serveBlob: ETag and If-None-Match, Last-Modified, Range, HEAD, private
// caching, nosniff; or behind nginx, the X-Accel-Redirect hand-off.
func (s *Server) serveCachedThumb(c echo.Context, key, etag string, t *cachedThumb) error {
	h := c.Response().Header()
	h["Cache-Control"] = hdrThumbCacheControl
	h["Etag"] = []string{etag}
	h["X-Content-Type-Options"] = hdrNosniff
	if s.cfg.AccelRedirect != "" {
		if inm := c.Request().Header.Get("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
			return c.NoContent(http.StatusNotModified)
		}
		h["Content-Type"] = hdrImageJPEG
		h["Last-Modified"] = t.lastModified
		h["X-Accel-Redirect"] = []string{strings.TrimSuffix(s.cfg.AccelRedirect, "/") + "/" + key}
		return c.NoContent(http.StatusOK)
	}
	h["Content-Type"] = hdrImageJPEG
	if r := c.Request(); (r.Method == http.MethodGet || r.Method == http.MethodHead) && !hasRangeOrCondition(r.Header) {
		// A plain full answer, as http.ServeContent would give it, written in one call
		// (ServeContent copies through a 32 KB buffer it allocates for each answer).
		h["Last-Modified"] = t.lastModified
		h["Content-Length"] = t.length
		h["Accept-Ranges"] = hdrBytes
		resp := c.Response()
		resp.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			// As with ServeContent, a client gone mid-answer is not an error of ours.
			_, _ = resp.Write(t.data)
		}
		return nil
	}
	w := &statusInterceptor{ResponseWriter: c.Response()}
	http.ServeContent(w, c.Request(), "", t.info.ModTime, bytes.NewReader(t.data))
	switch w.refused {
	case 0:
		return nil
	case http.StatusRequestedRangeNotSatisfiable:
		return apiError("range_not_satisfiable", "the range is outside the file's %d bytes", t.info.Size)
	case http.StatusPreconditionFailed:
		return apiError("precondition_failed", "the file does not match If-Match or If-Unmodified-Since")
	}
	return fmt.Errorf("serve %s: status %d", key, w.refused)
}

// thumbLoadError maps a failed load of a thumbnail the photo row says is ready.
func thumbLoadError(err error) error {
	if errors.Is(err, blob.ErrNotFound) {
		return apiError("file_not_found", "the file is missing").withCause(err)
	}
	return err
}
