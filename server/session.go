package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
)

// Admin web sessions: a photographer signs in with email and password and gets an
// HttpOnly cookie. Requests authenticated by the cookie act with every scope, and every
// change they make must carry the session's CSRF token in X-CSRF-Token.

// SessionCookie is the name of the admin session cookie.
const SessionCookie = "gallerist_session"

// CSRFHeader carries the session's CSRF token on every change made with the cookie.
const CSRFHeader = "X-CSRF-Token"

const (
	sessionPrefix   = "gs_"
	sessionLifetime = 14 * 24 * time.Hour
	// sessionTouchEvery bounds how often a session's last use is written.
	sessionTouchEvery = time.Minute
	// sessionMaxAge ends a session this long after its sign-in, however active it is: a
	// stolen cookie does not live for ever.
	sessionMaxAge    = 60 * 24 * time.Hour
	minAdminPassword = 8
)

// LoginRequest is the body of POST /api/v1/session and POST /api/v1/setup.
type LoginRequest struct {
	Email    string `json:"email" required:"true" format:"email" maxLength:"254" example:"you@example.com"`
	Password string `json:"password" required:"true" minLength:"1" maxLength:"1000"`
}

// AdminResponse is a photographer account.
type AdminResponse struct {
	ID    int64  `json:"id" required:"true"`
	Email string `json:"email" required:"true"`
}

// SessionResponse is the signed-in admin with the token to send in X-CSRF-Token.
type SessionResponse struct {
	CSRFToken string        `json:"csrf_token" required:"true" description:"Send in X-CSRF-Token on every request other than GET and HEAD made with the session cookie."`
	Admin     AdminResponse `json:"admin" required:"true"`
	ExpiresAt time.Time     `json:"expires_at" required:"true" description:"The session ends then unless used; each use extends it."`
}

// webSession is the admin session of a request.
type webSession struct {
	IDHash string
	Record *storage.AdminSession
	Admin  *storage.Admin
}

func newSessionSecret() (secret, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generate session id: %w", err)
	}
	secret = sessionPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, HashTokenSecret(secret), nil
}

func newCSRFToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate csrf token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// currentSession reads the session cookie; nil when there is none or it is unknown or
// expired. A used session is extended (at most one write a minute).
func (s *Server) currentSession(c echo.Context) (*webSession, error) {
	ck, err := c.Cookie(SessionCookie)
	if err != nil || !strings.HasPrefix(ck.Value, sessionPrefix) {
		return nil, nil
	}
	hash := HashTokenSecret(ck.Value)
	rec, admin, err := s.db.FindAdminSession(c.Request().Context(), hash)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read admin session: %w", err)
	}
	now := time.Now()
	if !now.Before(rec.ExpiresAt) {
		return nil, nil
	}
	if !now.Before(rec.CreatedAt.Add(sessionMaxAge)) {
		return nil, nil // however active, a session ends sessionMaxAge after its sign-in
	}
	if now.Sub(rec.LastSeenAt) >= sessionTouchEvery {
		rec.LastSeenAt, rec.ExpiresAt = now, now.Add(sessionLifetime)
		if last := rec.CreatedAt.Add(sessionMaxAge); rec.ExpiresAt.After(last) {
			rec.ExpiresAt = last
		}
		if err := s.db.TouchAdminSession(c.Request().Context(), hash, now, rec.ExpiresAt); err != nil {
			s.log.Warn("record session use", "admin_id", admin.ID, "error", err)
		} else {
			// The browser keeps the cookie as long as the session lives on the server.
			s.setSessionCookie(c, ck.Value, rec.ExpiresAt, false)
		}
	}
	return &webSession{IDHash: hash, Record: rec, Admin: admin}, nil
}

// sessionPrincipal authenticates a request by its session cookie: ok is false when the
// cookie is absent or not valid. A change (any method but GET and HEAD) must carry the
// session's CSRF token, or it is refused with csrf_failed.
func (s *Server) sessionPrincipal(c echo.Context) (*principal, bool, error) {
	ws, err := s.currentSession(c)
	if err != nil || ws == nil {
		return nil, false, err
	}
	if err := checkCSRF(c, ws); err != nil {
		return nil, false, err
	}
	return &principal{Scopes: []string{string(ScopeAdmin)}, Session: ws}, true, nil
}

// checkCSRF refuses a change without the session's CSRF token.
func checkCSRF(c echo.Context, ws *webSession) error {
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := c.Request().Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ws.Record.CSRFToken)) != 1 {
		return apiError("csrf_failed", "a change made with the session cookie needs the session's token in %s", CSRFHeader)
	}
	return nil
}

// setSessionCookie sets (or with clear, removes) the admin session cookie.
func (s *Server) setSessionCookie(c echo.Context, value string, expires time.Time, clear bool) {
	ck := &http.Cookie{Name: SessionCookie, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.requestIsHTTPS(c), Expires: expires}
	if clear {
		ck.Value, ck.MaxAge, ck.Expires = "", -1, time.Unix(0, 0)
	}
	c.SetCookie(ck)
}

// startSession opens a session for a and answers it.
func (s *Server) startSession(c echo.Context, a *storage.Admin, status int) error {
	secret, hash, err := newSessionSecret()
	if err != nil {
		return err
	}
	csrf, err := newCSRFToken()
	if err != nil {
		return err
	}
	rec := &storage.AdminSession{IDHash: hash, AdminID: a.ID, CSRFToken: csrf, ExpiresAt: time.Now().Add(sessionLifetime)}
	if err := s.db.CreateAdminSession(c.Request().Context(), rec); err != nil {
		return err
	}
	s.setSessionCookie(c, secret, rec.ExpiresAt, false)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, sessionResponse(rec, a))
}

func sessionResponse(rec *storage.AdminSession, a *storage.Admin) SessionResponse {
	return SessionResponse{CSRFToken: rec.CSRFToken, Admin: AdminResponse{ID: a.ID, Email: a.Email}, ExpiresAt: rec.ExpiresAt.UTC()}
}

// checkOrigin refuses a sign-in posted by another site's page (login CSRF): a browser
// sends Origin with every cross-site POST, and it must name this server.
func (s *Server) checkOrigin(c echo.Context) error {
	o := c.Request().Header.Get("Origin")
	if o == "" {
		return nil // not a browser, or a same-origin request of an old one
	}
	u, err := url.Parse(o)
	if err == nil {
		if base, berr := url.Parse(s.publicBaseURL(c)); berr == nil && (u.Host == base.Host || u.Host == c.Request().Host) {
			return nil
		}
	}
	return apiError("csrf_failed", "a sign-in must come from this server's own page (Origin %q)", o)
}

// loginKey is the attempt limiter's "gallery" for admin sign-ins.
const loginKey = "\x00admin-login"

// login checks an email and password and opens a session. Wrong attempts are limited per
// client like gallery passwords; an unknown email takes as long as a wrong password.
func (s *Server) login(c echo.Context) error {
	client := c.RealIP()
	if err := s.checkOrigin(c); err != nil {
		return err
	}
	wait, forgive := s.attempts.reserve(client, loginKey)
	if wait > 0 {
		return retryAfter(c, wait)
	}
	var req LoginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	a, err := s.db.FindAdminByEmail(c.Request().Context(), req.Email)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		forgive()
		return err
	}
	if a == nil {
		CheckPassword(dummyHash, req.Password) // as slow as a real check
	}
	if a == nil || !CheckPassword(a.PasswordHash, req.Password) {
		return apiError("invalid_credentials", "wrong email or password") // stays counted
	}
	forgive()
	return s.startSession(c, a, http.StatusOK)
}

// getSession answers the signed-in admin of the cookie.
func (s *Server) getSession(c echo.Context) error {
	ws, err := s.currentSession(c)
	if err != nil {
		return err
	}
	if ws == nil {
		n, err := s.db.CountAdmins(c.Request().Context())
		if err != nil {
			return fmt.Errorf("count admins: %w", err)
		}
		return apiError("session_required", "sign in first").withDetails("setup_required", n == 0)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, sessionResponse(ws.Record, ws.Admin))
}

// logout ends the cookie's session. It needs the CSRF token, so another site cannot sign
// the photographer out.
func (s *Server) logout(c echo.Context) error {
	ws, err := s.currentSession(c)
	if err != nil {
		return err
	}
	if ws != nil {
		if err := checkCSRF(c, ws); err != nil {
			return err
		}
		if err := s.db.DeleteAdminSession(c.Request().Context(), ws.IDHash); err != nil {
			return err
		}
	}
	s.setSessionCookie(c, "", time.Time{}, true)
	return c.NoContent(http.StatusNoContent)
}

// setup creates the first admin account and signs it in; once any admin exists it is
// refused with setup_done (more accounts come from `gallerist admin create`).
func (s *Server) setup(c echo.Context) error {
	if err := s.checkOrigin(c); err != nil {
		return err
	}
	var req LoginRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	n, err := s.db.CountAdmins(ctx)
	if err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n > 0 {
		return apiError("setup_done", "an admin account exists already; sign in")
	}
	email := strings.TrimSpace(req.Email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 {
		return invalidParam("email", "must be an email address")
	}
	if len(req.Password) < minAdminPassword {
		return invalidParam("password", "must have at least %d characters", minAdminPassword)
	}
	hash, err := HashPassword(req.Password)
	if err != nil {
		return err
	}
	a := &storage.Admin{Email: email, PasswordHash: hash}
	if err := s.db.CreateFirstAdmin(ctx, a); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return apiError("setup_done", "an admin account exists already; sign in")
		}
		return fmt.Errorf("create first admin: %w", err)
	}
	return s.startSession(c, a, http.StatusCreated)
}
