package server

import (
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
)

// principal is who made a request.
type principal struct {
	Token  *storage.Token
	Scopes []string
	// Guest and Event are set for a guest of one gallery (routes with Guest set).
	Guest *guestClaims
	Event *storage.Event
	// Session is set for a photographer signed in to the web UI (cookie), who holds
	// every scope.
	Session *webSession
}

const principalKey = "gallerist.principal"

// requestID gives every request an id (or keeps a sane one from the proxy), echoed in
// X-Request-Id and in every log line of the request.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			id = newRequestID()
		}
		c.Response().Header()[echo.HeaderXRequestID] = []string{id}
		return next(c)
	}
}

// newRequestID returns 16 random hex digits. Request ids name log lines; they are no
// secret, so the runtime's fast generator serves instead of crypto/rand.
func newRequestID() string {
	const digits = "0123456789abcdef"
	var b [16]byte
	v := mrand.Uint64()
	for i := range b {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// logPath is a request path fit for the log: connector media tokens are capabilities
// (whoever has one may fetch the photo), so they are cut out.
func logPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "/connector-media/"); ok {
		if _, name, ok := strings.Cut(rest, "/"); ok {
			return "/connector-media/…/" + name
		}
		return "/connector-media/…"
	}
	return p
}

// recoverPanics turns a handler panic into a logged 500 instead of a dead connection.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			}
		}()
		return next(c)
	}
}

// accessLog logs one line per request and feeds the request metrics.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			// Render now so the status below is the one the client got.
			c.Error(err)
		}
		status := c.Response().Status
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		s.metrics.observeRequest(c.Request().Method, route, status, elapsed)
		level := slog.LevelInfo
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			level = slog.LevelDebug
		}
		ctx := c.Request().Context()
		if !s.log.Enabled(ctx, level) {
			return nil
		}
		// LogAttrs with typed attributes: no boxing of each value into an interface.
		s.log.LogAttrs(ctx, level, "request",
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)),
			slog.String("method", c.Request().Method),
			slog.String("path", logPath(c.Request().URL.Path)),
			slog.String("route", route),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.String("remote_ip", c.RealIP()),
		)
		return nil
	}
}

// Values of the security headers, shared by every answer (never modified in place).
var (
	hdrNosniff    = []string{"nosniff"}
	hdrSameOrigin = []string{"same-origin"}
	hdrDeny       = []string{"DENY"}
)

// securityHeaders sets the headers every answer carries.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		// The shared slices are never changed: a handler's Set or Del replaces them.
		h["X-Content-Type-Options"] = hdrNosniff
		h["Referrer-Policy"] = hdrSameOrigin
		h["X-Frame-Options"] = hdrDeny
		return next(c)
	}
}

// requireScope authenticates the bearer token and checks that it grants scope. On a
// guest route (guest set) a gallery credential for the :slug gallery is accepted instead
// of an API token.
func (s *Server) requireScope(scope Scope, guest bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if scope == ScopePublic {
				return next(c)
			}
			if guest && !strings.HasPrefix(bearer(c), tokenPrefix) {
				p, err := s.guestAccess(c)
				if err != nil {
					// The signed-in photographer may view any gallery.
					if sp, ok, serr := s.sessionPrincipal(c); serr != nil || ok {
						if serr != nil {
							return serr
						}
						c.Set(principalKey, sp)
						return next(c)
					}
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gallery"`)
					return err
				}
				c.Set(principalKey, p)
				return next(c)
			}
			if c.Request().Header.Get(echo.HeaderAuthorization) == "" {
				// The web UI's session cookie (admin, every scope; changes need X-CSRF-Token).
				if sp, ok, err := s.sessionPrincipal(c); err != nil || ok {
					if err != nil {
						return err
					}
					c.Set(principalKey, sp)
					return next(c)
				}
			}
			p, err := s.authenticate(c)
			if err != nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gallerist"`)
				return err
			}
			if !grants(p.Scopes, scope) {
				return apiError("insufficient_scope", "this route needs the %s scope", scope).withDetails("required", string(scope))
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

// bearer returns the bearer credential of a request, or "".
func bearer(c echo.Context) string {
	scheme, v, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(v)
}

// authenticate reads the bearer token of a request.
func (s *Server) authenticate(c echo.Context) (*principal, error) {
	h := c.Request().Header.Get(echo.HeaderAuthorization)
	if h == "" {
		return nil, apiError("missing_token", "send Authorization: Bearer <token>")
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(secret) == "" {
		return nil, apiError("invalid_token", "the Authorization header is not a bearer token")
	}
	secret = strings.TrimSpace(secret)
	tok, err := s.db.FindTokenByHash(c.Request().Context(), HashTokenSecret(secret))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, apiError("invalid_token", "the token is not valid")
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if tok.RevokedAt != nil {
		return nil, apiError("token_revoked", "the token was revoked")
	}
	if tok.ExpiresAt != nil && !now.Before(*tok.ExpiresAt) {
		return nil, apiError("token_expired", "the token expired at %s", tok.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := s.db.TouchToken(c.Request().Context(), tok.ID, now); err != nil {
		s.log.Warn("record token use", "token_id", tok.ID, "error", err)
	}
	return &principal{Token: tok, Scopes: tok.Scopes}, nil
}

// ipExtractor believes X-Forwarded-For only from the configured proxies.
func (s *Server) ipExtractor() echo.IPExtractor {
	prefixes := s.cfg.trustedPrefixes()
	if len(prefixes) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range prefixes {
		_, n, err := net.ParseCIDR(p.String())
		if err == nil {
			opts = append(opts, echo.TrustIPRange(n))
		}
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
