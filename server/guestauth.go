package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gallerist/gallerist/storage"
)

// guestTokenPrefix starts every gallery token, so it is never mistaken for an API token.
const guestTokenPrefix = "gg_"

// guestClaims are what a gallery token says: which gallery, which of its guest epochs
// (raised by a new password or link), which guest, until when.
type guestClaims struct {
	EventID int64  `json:"e"`
	Epoch   int64  `json:"v"`
	GuestID string `json:"g"`
	Expires int64  `json:"x"`
}

// guestKey returns the key that signs gallery tokens (shared by every instance through
// the database).
func (s *Server) guestKey(c echo.Context) ([]byte, error) {
	s.guestKeyOnce.Do(func() {
		k, err := s.db.GuestTokenKey(c.Request().Context(), func() (string, error) {
			b := make([]byte, 32)
			if _, err := rand.Read(b); err != nil {
				return "", err
			}
			return hex.EncodeToString(b), nil
		})
		if err == nil {
			s.guestKeyBytes, _ = hex.DecodeString(k)
		}
	})
	if len(s.guestKeyBytes) == 0 {
		s.guestKeyOnce = sync.Once{} // try again next time
		return nil, errors.New("guest token key unavailable")
	}
	return s.guestKeyBytes, nil
}

func (s *Server) signGuestToken(c echo.Context, cl guestClaims) (string, error) {
	key, err := s.guestKey(c)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(cl)
	payload := base64.RawURLEncoding.EncodeToString(body)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(payload))
	return guestTokenPrefix + payload + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// parseGuestToken checks a gallery token's signature and expiry. A signature verified
// once is remembered (verifiedGuestTokens); the expiry is checked on every call, and the
// caller checks the event and epoch against the event row every time.
func (s *Server) parseGuestToken(c echo.Context, token string) (*guestClaims, bool) {
	rest, ok := strings.CutPrefix(token, guestTokenPrefix)
	if !ok {
		return nil, false
	}
	key, err := s.guestKey(c)
	if err != nil {
		return nil, false
	}
	if cl, ok := verifiedGuestTokens.get(token, key); ok {
		if time.Now().Unix() >= cl.Expires {
			return nil, false
		}
		return &cl, true
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return nil, false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(payload))
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return nil, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	var cl guestClaims
	if json.Unmarshal(body, &cl) != nil {
		return nil, false
	}
	verifiedGuestTokens.put(token, key, cl)
	if time.Now().Unix() >= cl.Expires {
		return nil, false
	}
	return &cl, true
}

// guestCookieName is the cookie of one gallery's guest session.
func guestCookieName(slug string) string { return "gallerist_gallery_" + slug }

// guestAccess checks a guest's credentials for the gallery of the :slug parameter: a
// gallery token (Authorization: Bearer gg_..., or the gallery's cookie), or for a
// gallery without a password its share key (?key= or X-Gallery-Key). Unknown galleries
// and missing or foreign credentials get the same 401; a closed gallery is 404 and an
// expired one 410 to a guest who could otherwise enter.
func (s *Server) guestAccess(c echo.Context) (*principal, error) {
	slug := c.Param("slug")
	need := apiError("gallery_auth_required", "sign in to this gallery with its password or share link")
	if !slugPattern.MatchString(slug) {
		return nil, need
	}
	// One check that the database is unchanged serves this lookup and the handler's
	// (the photo of a file request) from storage's snapshot cache.
	c.SetRequest(c.Request().WithContext(s.db.WithSnapshot(c.Request().Context())))
	e, err := s.db.FindEventBySlug(c.Request().Context(), slug)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, need
	}
	if err != nil {
		return nil, err
	}
	var claims *guestClaims
	token := ""
	if h := c.Request().Header.Get(echo.HeaderAuthorization); h != "" {
		if scheme, v, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "bearer") {
			token = strings.TrimSpace(v)
		}
	}
	if token == "" {
		if ck, err := c.Cookie(guestCookieName(slug)); err == nil {
			token = ck.Value
		}
	}
	if token != "" {
		if cl, ok := s.parseGuestToken(c, token); ok && cl.EventID == e.ID && cl.Epoch == e.GuestEpoch {
			claims = cl
		}
	}
	if claims == nil && e.PasswordHash == "" {
		key := c.QueryParam("key")
		if key == "" {
			key = c.Request().Header.Get("X-Gallery-Key")
		}
		if key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(e.ShareKey)) == 1 {
			claims = &guestClaims{EventID: e.ID, Epoch: e.GuestEpoch}
		}
	}
	if claims == nil {
		return nil, need
	}
	if err := galleryOpen(e); err != nil {
		return nil, err
	}
	return &principal{Guest: claims, Event: e}, nil
}

// galleryOpen tells whether guests may enter e now.
func galleryOpen(e *storage.Event) error {
	if e.IsArchived || !e.IsPublished {
		return apiError("gallery_not_found", "this gallery is not available")
	}
	if e.ExpiresAt != nil && time.Now().After(*e.ExpiresAt) {
		return apiError("gallery_expired", "this gallery expired on %s", e.ExpiresAt.UTC().Format("2006-01-02"))
	}
	return nil
}

// requestIsHTTPS tells whether the client reached us over HTTPS: directly, or through a
// trusted proxy that says so in X-Forwarded-Proto. The header of any other peer is ignored.
func (s *Server) requestIsHTTPS(c echo.Context) bool {
	if c.Request().TLS != nil {
		return true
	}
	return s.fromTrustedProxy(c) && strings.EqualFold(strings.TrimSpace(strings.Split(c.Request().Header.Get("X-Forwarded-Proto"), ",")[0]), "https")
}

// fromTrustedProxy tells whether the direct peer is one of GALLERIST_TRUSTED_PROXIES.
func (s *Server) fromTrustedProxy(c echo.Context) bool {
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range s.cfg.trustedPrefixes() {
		if p.Contains(ip.Unmap()) {
			return true
		}
	}
	return false
}

// publicBaseURL is the origin for absolute links: GALLERIST_BASE_URL, else what a trusted
// proxy forwarded (X-Forwarded-Proto and -Host), else the request's own host.
func (s *Server) publicBaseURL(c echo.Context) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimSuffix(s.cfg.BaseURL, "/")
	}
	scheme := "http"
	if s.requestIsHTTPS(c) {
		scheme = "https"
	}
	host := c.Request().Host
	if s.fromTrustedProxy(c) {
		if h := strings.TrimSpace(strings.Split(c.Request().Header.Get("X-Forwarded-Host"), ",")[0]); h != "" {
			host = h
		}
	}
	return scheme + "://" + host
}

// attemptLimiter counts failed gallery sign-ins per client and gallery and per gallery in
// a sliding window, in memory (each instance counts its own).
type attemptLimiter struct {
	mu       sync.Mutex
	window   time.Duration
	perPair  int
	perSlug  int
	failures map[string][]time.Time
}

func newAttemptLimiter() *attemptLimiter {
	return &attemptLimiter{window: 15 * time.Minute, perPair: 5, perSlug: 50, failures: map[string][]time.Time{}}
}

// keys are the counters an attempt on slug counts in: the client's, and the gallery's
// (a distributed guess). Admin sign-ins have no global counter: anyone could otherwise
// lock the photographer out by failing 50 times.
func (l *attemptLimiter) keys(client, slug string) map[string]int {
	if slug == loginKey {
		return map[string]int{client + "|" + slug: l.perPair}
	}
	return map[string]int{client + "|" + slug: l.perPair, "|" + slug: l.perSlug}
}

// reserve counts an attempt before the password is checked, so that parallel requests
// cannot all pass the limit while the slow checks run. It returns how long the client
// must wait (nothing is counted then), or a forgive func to call when the attempt
// succeeded (or failed for a reason of the server's).
func (l *attemptLimiter) reserve(client, slug string) (time.Duration, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	wait := time.Duration(0)
	keys := l.keys(client, slug)
	for key, limit := range keys {
		times := l.prune(key, now)
		if len(times) >= limit {
			wait = max(wait, times[len(times)-limit].Add(l.window).Sub(now))
		}
	}
	if wait > 0 {
		return wait, nil
	}
	for key := range keys {
		l.failures[key] = append(l.failures[key], now)
	}
	if len(l.failures) > 100_000 { // bound memory under a flood of distinct clients
		for k := range l.failures {
			if strings.HasPrefix(k, "|") {
				continue // never forget a gallery's own count
			}
			delete(l.failures, k)
			if len(l.failures) < 50_000 {
				break
			}
		}
	}
	return 0, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for key := range keys {
			times := l.failures[key]
			for i := len(times) - 1; i >= 0; i-- {
				if times[i].Equal(now) {
					l.failures[key] = append(times[:i:i], times[i+1:]...)
					break
				}
			}
			if len(l.failures[key]) == 0 {
				delete(l.failures, key)
			}
		}
	}
}

func (l *attemptLimiter) prune(key string, now time.Time) []time.Time {
	times := l.failures[key]
	i := 0
	for i < len(times) && now.Sub(times[i]) >= l.window {
		i++
	}
	times = times[i:]
	if len(times) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = times
	return times
}

// dummyHash is compared against when a slug is unknown, so that an unknown gallery
// takes as long to refuse as a wrong password.
var dummyHash = func() string {
	h, _ := HashPassword("gallerist-unknown-gallery")
	return h
}()

func newGuestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func retryAfter(c echo.Context, d time.Duration) *Error {
	secs := int(d.Seconds()) + 1
	c.Response().Header().Set("Retry-After", fmt.Sprint(secs))
	return apiError("too_many_attempts", "too many wrong attempts; try again in %d seconds", secs).withDetails("retry_after", secs)
}

// setGuestCookie sets (or with maxAge < 0 clears) a gallery's session cookie.
func (s *Server) setGuestCookie(c echo.Context, slug, value string, expires time.Time, clear bool) {
	ck := &http.Cookie{Name: guestCookieName(slug), Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.requestIsHTTPS(c), Expires: expires}
	if clear {
		ck.Value, ck.MaxAge, ck.Expires = "", -1, time.Unix(0, 0)
	}
	c.SetCookie(ck)
}
