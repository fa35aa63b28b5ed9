package connector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HTTPError is a platform's answer that is not a success.
type HTTPError struct {
	Op     string
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	body := e.Body
	if len(body) > 300 {
		body = body[:300] + "…"
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.Status, strings.TrimSpace(body))
}

// ambiguousError means a write was sent but its outcome is unknown (a timeout, a dropped
// connection or a server error after the request went out): the platform may have
// applied it. The caller must reconcile before writing again.
type ambiguousError struct {
	op  string
	err error
}

func (e *ambiguousError) Error() string { return e.op + ": outcome unknown: " + e.err.Error() }
func (e *ambiguousError) Unwrap() error { return e.err }

// isAmbiguous reports whether err leaves a write's outcome unknown.
func isAmbiguous(err error) bool {
	var a *ambiguousError
	return errors.As(err, &a)
}

// statusOf returns the HTTP status of an HTTPError, or 0.
func statusOf(err error) int {
	var h *HTTPError
	if errors.As(err, &h) {
		return h.Status
	}
	return 0
}

// response is a finished call.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// bodyFunc makes a fresh request body and its content type for each try.
type bodyFunc func() (io.Reader, string, error)

// newRequest returns a build function for a call to url with an optional body.
func newRequest(method, url string, body bodyFunc) func(ctx context.Context) (*http.Request, error) {
	return func(ctx context.Context) (*http.Request, error) {
		var r io.Reader
		ctype := ""
		if body != nil {
			var err error
			if r, ctype, err = body(); err != nil {
				return nil, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, method, url, r)
		if err != nil {
			if c, ok := r.(io.Closer); ok {
				c.Close() // ends a body writer (a pipe) that would wait forever
			}
			return nil, err
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return req, nil
	}
}

// call describes one request. build makes a fresh request for each try (bodies are
// read once).
type call struct {
	op    string
	build func(ctx context.Context) (*http.Request, error)
	// safe calls may be sent again when their outcome is unknown (reads, and writes the
	// platform deduplicates).
	safe bool
	// auth sets the credentials; force asks for a new token after a 401.
	auth func(ctx context.Context, req *http.Request, force bool) error
}

// client sends calls to one platform account: it retries what may be retried, waits out
// rate limits, and never sends a request before a wait a 429 imposed.
type client struct {
	http *http.Client
	// defaultWait is the wait after a 429 that says nothing of when to come back.
	defaultWait time.Duration
	// maxTries bounds the tries of a call on 5xx and network errors.
	maxTries int
	backoff  time.Duration
	// writeGap spaces requests (a platform's per-minute budget), 0 for none.
	writeGap time.Duration
	// rateHeaders is the prefix of the platform's rate-limit headers (X-Rate-Limit- or X-RateLimit-).
	rateHeaders string

	mu        sync.Mutex
	notBefore time.Time
}

// maxBody bounds what is read of an answer.
const maxBody = 8 << 20

func (c *client) wait(ctx context.Context) error {
	c.mu.Lock()
	until := c.notBefore
	if c.writeGap > 0 {
		now := time.Now()
		next := until
		if next.Before(now) {
			next = now
		}
		c.notBefore = next.Add(c.writeGap)
	}
	c.mu.Unlock()
	d := time.Until(until)
	if d > maxInlineWait {
		// A long hold (an hourly window spent): give the worker back and resume later.
		return errWaiting{after: d}
	}
	if d > 0 {
		return sleep(ctx, d)
	}
	return nil
}

// maxInlineWait is the longest rate-limit wait spent holding a worker.
const maxInlineWait = 30 * time.Second

// notSent reports whether a request failed before any of it reached the platform (no
// connection, no name), so even a write may be sent again.
func notSent(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

// holdUntil keeps every request of this client back until t.
func (c *client) holdUntil(t time.Time) {
	c.mu.Lock()
	if t.After(c.notBefore) {
		c.notBefore = t
	}
	c.mu.Unlock()
}

// retryAfter reads how long a 429 or 503 asks to wait: Retry-After (seconds or a date),
// else the platform's reset header (Unix seconds), else the default.
func (c *client) retryAfter(h http.Header) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0)
		}
	}
	if c.rateHeaders != "" {
		if v := h.Get(c.rateHeaders + "Reset"); v != "" {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				// A reset in Unix seconds, rounded up to the next whole second.
				return max(time.Until(time.Unix(n, 0)), 0) + time.Second
			}
		}
	}
	return c.defaultWait
}

// noteRate holds requests back when the platform says the budget is spent.
func (c *client) noteRate(h http.Header) {
	if c.rateHeaders == "" {
		return
	}
	if h.Get(c.rateHeaders+"Remaining") == "0" {
		c.holdUntil(time.Now().Add(c.retryAfter(http.Header{c.rateHeaders + "Reset": h.Values(c.rateHeaders + "Reset")})))
	}
}

// do sends a call until it succeeds (2xx), fails for good (4xx), or runs out of tries.
// A 2xx or 4xx answer comes back as a response (4xx also as *HTTPError); a 429 is
// waited out and does not count as a try; a 401 gets one new token.
func (c *client) do(ctx context.Context, cl call) (*response, error) {
	tries, limited := 0, 0
	refreshed, forced := false, false
	for {
		if err := c.wait(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", cl.op, err)
		}
		req, err := cl.build(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cl.op, err)
		}
		if cl.auth != nil {
			force := refreshed && !forced // one new token per 401, however many retries follow
			forced = forced || force
			if err := cl.auth(ctx, req, force); err != nil {
				if req.Body != nil {
					req.Body.Close() // ends a body writer (a pipe) waiting for a reader
				}
				return nil, err
			}
		}
		tries++
		resp, err := c.http.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("%s: %w", cl.op, ctx.Err())
			}
			if !cl.safe && !notSent(err) {
				return nil, &ambiguousError{cl.op, err}
			}
			if tries >= c.maxTries {
				return nil, fmt.Errorf("%s: %w", cl.op, err)
			}
			if err := sleep(ctx, c.backoffFor(tries)); err != nil {
				return nil, err
			}
			continue
		}
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			c.noteRate(resp.Header) // a 429's own wait is read below, Retry-After first
		}
		out := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
		switch {
		case readErr != nil && !cl.safe:
			return nil, &ambiguousError{cl.op, readErr}
		case readErr != nil:
			if tries >= c.maxTries {
				return nil, fmt.Errorf("%s: %w", cl.op, readErr)
			}
		case resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""):
			// Throttled: the request was refused, not applied. Wait as told; it is not a try.
			limited++
			d := c.retryAfter(resp.Header)
			if limited > 20 {
				return nil, errWaiting{after: max(d, time.Minute)} // the platform keeps refusing: come back later
			}
			c.holdUntil(time.Now().Add(d))
			tries--
			continue
		case resp.StatusCode == http.StatusUnauthorized && cl.auth != nil && !refreshed:
			refreshed, tries = true, 0
			continue
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return out, nil
		case resp.StatusCode < 500:
			return out, &HTTPError{cl.op, resp.StatusCode, string(body)}
		case !cl.safe:
			return out, &ambiguousError{cl.op, &HTTPError{cl.op, resp.StatusCode, string(body)}}
		case tries >= c.maxTries:
			return out, &HTTPError{cl.op, resp.StatusCode, string(body)}
		}
		if err := sleep(ctx, c.backoffFor(tries)); err != nil {
			return nil, err
		}
	}
}

func (c *client) backoffFor(try int) time.Duration {
	d := c.backoff << min(try-1, 8)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
