package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
)

// TestTokensAPI: create (secret shown once), list (never the secret), use, revoke.
func TestTokensAPI(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	resp, body := ts.do(t, http.MethodPost, "/api/v1/tokens", ts.Admin, map[string]any{
		"name": "lightroom plugin", "scopes": []string{"photos.write", "events.read", "photos.write"}, "expires_at": expires,
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	created := decode[server.CreatedTokenResponse](t, body)
	secret := created.Token
	if !strings.HasPrefix(secret, "glr_") || len(secret) < 40 {
		t.Fatalf("token %q", secret)
	}
	if created.ID <= 0 || created.Name != "lightroom plugin" || !strings.HasPrefix(secret, created.Prefix) || len(created.Prefix) >= len(secret) {
		t.Errorf("created %+v", created.TokenResponse)
	}
	if !slices.Equal(created.Scopes, []string{"photos.write", "events.read"}) {
		t.Errorf("scopes %v, want deduplicated [photos.write events.read]", created.Scopes)
	}
	if created.ExpiresAt == nil || !created.ExpiresAt.Equal(expires) || created.RevokedAt != nil || created.LastUsedAt != nil {
		t.Errorf("times %+v", created.TokenResponse)
	}

	// The list never includes a secret.
	resp, body = ts.do(t, http.MethodGet, "/api/v1/tokens", ts.Admin, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), secret) || strings.Contains(string(body), ts.Admin) || strings.Contains(string(body), `"token"`) {
		t.Errorf("list reveals a secret: %s", body)
	}
	list := decode[server.TokenListResponse](t, body)
	if list.Total != 2 || len(list.Items) != 2 {
		t.Fatalf("list: %+v", list)
	}
	var found *server.TokenResponse
	for i := range list.Items {
		if list.Items[i].ID == created.ID {
			found = &list.Items[i]
		}
	}
	if found == nil || found.Prefix != created.Prefix || found.LastUsedAt != nil {
		t.Fatalf("listed %+v", found)
	}

	// The token works for what its scopes allow, and its use is recorded.
	resp, body = ts.do(t, http.MethodGet, "/api/v1/events", secret, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("use: %d %s", resp.StatusCode, body)
	}
	resp, body = ts.do(t, http.MethodPost, "/api/v1/events", secret, map[string]any{"name": "x"})
	if e := wantError(t, resp, body, 403, "insufficient_scope"); e.Details["required"] != "events.write" {
		t.Errorf("details %v", e.Details)
	}
	list = getJSON[server.TokenListResponse](t, ts, "/api/v1/tokens")
	for _, it := range list.Items {
		if it.ID == created.ID && (it.LastUsedAt == nil || time.Since(*it.LastUsedAt) > time.Minute) {
			t.Errorf("last_used_at %v after use", it.LastUsedAt)
		}
	}

	// Revoke: 204, then the token is refused; revoking again is harmless.
	path := fmt.Sprintf("/api/v1/tokens/%d", created.ID)
	resp, body = ts.do(t, http.MethodDelete, path, ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("revoke: %d %q", resp.StatusCode, body)
	}
	resp, body = ts.do(t, http.MethodGet, "/api/v1/events", secret, nil)
	wantError(t, resp, body, 401, "token_revoked")
	list = getJSON[server.TokenListResponse](t, ts, "/api/v1/tokens")
	for _, it := range list.Items {
		if it.ID == created.ID && it.RevokedAt == nil {
			t.Errorf("revoked_at not set")
		}
	}
	resp, body = ts.do(t, http.MethodDelete, path, ts.Admin, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("revoke again: %d %s", resp.StatusCode, body)
	}
	// The admin token still works.
	if resp, _ := ts.do(t, http.MethodGet, "/api/v1/tokens", ts.Admin, nil); resp.StatusCode != 200 {
		t.Errorf("admin after revoking another token: %d", resp.StatusCode)
	}
}

func TestTokensAPIErrors(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cases := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"bad scope", "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"photos.delete"}}, 400, "invalid_parameter"},
		{"no scopes", "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{}}, 400, "invalid_parameter"},
		{"missing scopes", "POST", "/api/v1/tokens", map[string]any{"name": "x"}, 400, "invalid_parameter"},
		{"public is not a scope", "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"public"}}, 400, "invalid_parameter"},
		{"empty name", "POST", "/api/v1/tokens", map[string]any{"name": "", "scopes": []string{"admin"}}, 400, "invalid_parameter"},
		{"expiry in the past", "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"admin"}, "expires_at": "2020-01-01T00:00:00Z"}, 400, "invalid_parameter"},
		{"unknown field", "POST", "/api/v1/tokens", map[string]any{"name": "x", "scopes": []string{"admin"}, "scope": "admin"}, 400, "invalid_request"},
		{"malformed", "POST", "/api/v1/tokens", `{"name":`, 400, "invalid_request"},
		{"revoke unknown", "DELETE", "/api/v1/tokens/99999", nil, 404, "token_not_found"},
		{"revoke non-numeric", "DELETE", "/api/v1/tokens/abc", nil, 400, "invalid_parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, tc.method, tc.path, ts.Admin, tc.body)
			wantError(t, resp, body, tc.status, tc.code)
		})
	}
	// None of the refused creations stored a token.
	if l := getJSON[server.TokenListResponse](t, ts, "/api/v1/tokens"); l.Total != 1 {
		t.Errorf("%d tokens after refused creations, want only the admin's", l.Total)
	}
}

// TestTokenExpiry: a token created with an expiry stops working at it.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	resp, body := ts.do(t, http.MethodPost, "/api/v1/tokens", ts.Admin, map[string]any{
		"name": "short", "scopes": []string{"events.read"}, "expires_at": time.Now().Add(1500 * time.Millisecond),
	})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	tok := decode[server.CreatedTokenResponse](t, body).Token
	if resp, body := ts.do(t, http.MethodGet, "/api/v1/events", tok, nil); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d %s", resp.StatusCode, body)
	}
	waitFor(t, "the token to expire", func() bool {
		resp, _ := ts.do(t, http.MethodGet, "/api/v1/events", tok, nil)
		return resp.StatusCode != 200
	})
	resp, body = ts.do(t, http.MethodGet, "/api/v1/events", tok, nil)
	wantError(t, resp, body, 401, "token_expired")
}
