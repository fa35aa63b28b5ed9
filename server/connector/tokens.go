package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// tokenSource caches one target's access token until shortly before it expires. Its
// mutex also serialises refreshes: a Procore refresh token works once, so two runs
// must never spend it together.
type tokenSource struct {
	mu     sync.Mutex
	access string
	expiry time.Time
}

func (e *Engine) tokenSource(targetID int64) *tokenSource {
	ts, _ := e.tokens.LoadOrStore(targetID, &tokenSource{})
	return ts.(*tokenSource)
}

// token returns a valid access token, asking fetch for a new one when the cached one is
// missing, about to expire, or refused (force).
func (ts *tokenSource) token(ctx context.Context, force bool, fetch func(ctx context.Context) (string, time.Duration, error)) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if !force && ts.access != "" && time.Now().Before(ts.expiry) {
		return ts.access, nil
	}
	access, ttl, err := fetch(ctx)
	if err != nil {
		return "", err
	}
	// Renew a minute early (or at half-life for short tokens).
	margin := min(time.Minute, ttl/2)
	ts.access, ts.expiry = access, time.Now().Add(ttl-margin)
	return access, nil
}

// oauthToken is an OAuth2 token response.
type oauthToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func parseToken(op string, body []byte) (oauthToken, time.Duration, error) {
	var t oauthToken
	if err := json.Unmarshal(body, &t); err != nil || t.AccessToken == "" {
		return t, 0, fmt.Errorf("%s: no access_token in the answer", op)
	}
	ttl := time.Duration(t.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour
	}
	return t, ttl, nil
}
