package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gallerist/gallerist/server"
)

// placeholderPath fills the Echo path parameters with values the router accepts; auth
// runs before any handler reads them.
func placeholderPath(p string) string {
	r := strings.NewReplacer(":id", "1", ":photo_id", "1", ":category_id", "1", ":token_id", "1",
		":upload_id", "x", ":slug", "x", ":filename", "x.jpg", ":index", "0",
		":webhook_id", "1", ":delivery_id", "1")
	return r.Replace(p)
}

// weakerScopes are all scopes that do not grant need: not admin, not need itself and,
// for a *.read scope, not the matching *.write.
func weakerScopes(need server.Scope) []string {
	var out []string
	for _, s := range server.Scopes {
		if s == server.ScopeAdmin || s == need {
			continue
		}
		if strings.HasSuffix(string(need), ".read") && string(s) == strings.TrimSuffix(string(need), ".read")+".write" {
			continue
		}
		out = append(out, string(s))
	}
	return out
}

// TestScopesEveryRoute walks the route table and proves every scoped route refuses
// missing, garbage, revoked, expired and too-weak credentials with the right code.
func TestScopesEveryRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()

	revokedRec, revoked, err := server.CreateToken(ctx, ts.DB, "revoked", []string{"admin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.DB.RevokeToken(ctx, revokedRec.ID); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour)
	_, expired, err := server.CreateToken(ctx, ts.DB, "expired", []string{"admin"}, &past)
	if err != nil {
		t.Fatal(err)
	}
	weak := map[server.Scope]string{}

	scoped := 0
	for _, rt := range server.RouteTable() {
		if rt.Scope == server.ScopePublic {
			continue
		}
		scoped++
		if _, ok := weak[rt.Scope]; !ok {
			weak[rt.Scope] = ts.token(t, weakerScopes(rt.Scope)...)
		}
		path := placeholderPath(rt.Path)
		// A guest route asks for a gallery session when no API token (glr_) is sent.
		missing, notBearer := "missing_token", "invalid_token"
		if rt.Guest {
			missing, notBearer = "gallery_auth_required", "gallery_auth_required"
		}
		head := rt.Method == http.MethodHead
		cases := []struct {
			name   string
			header string
			status int
			code   string
		}{
			{"no token", "", 401, missing},
			{"garbage bearer", "Bearer glr_not-a-token-at-all", 401, "invalid_token"},
			{"not a bearer scheme", "Basic dXNlcjpwYXNz", 401, notBearer},
			{"revoked", "Bearer " + revoked, 401, "token_revoked"},
			{"expired", "Bearer " + expired, 401, "token_expired"},
			{"insufficient scope", "Bearer " + weak[rt.Scope], 403, "insufficient_scope"},
		}
		for _, tc := range cases {
			t.Run(rt.Method+" "+rt.Path+"/"+tc.name, func(t *testing.T) {
				req, _ := http.NewRequest(rt.Method, ts.URL+path, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, body := ts.send(t, req)
				if resp.Header.Get("X-Request-Id") == "" {
					t.Errorf("error answer without X-Request-Id")
				}
				if head {
					// A HEAD answer has no body; the status is all there is.
					if resp.StatusCode != tc.status {
						t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
					}
					return
				}
				e := wantError(t, resp, body, tc.status, tc.code)
				if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 without a Bearer WWW-Authenticate header: %q", resp.Header.Get("WWW-Authenticate"))
				}
				if tc.code == "insufficient_scope" {
					if got := e.Details["required"]; got != string(rt.Scope) {
						t.Errorf("details.required = %v, want %q", got, rt.Scope)
					}
				}
			})
		}
	}
	if scoped < 20 {
		t.Fatalf("only %d scoped routes in the table", scoped)
	}
}

// TestScopeImplications: *.write implies *.read, admin implies everything, and a scope
// never implies a different resource's scope.
func TestScopeImplications(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	cases := []struct {
		name   string
		scopes []string
		method string
		path   string
		status int
		code   string
	}{
		{"events.write reads events", []string{"events.write"}, "GET", "/api/v1/events", 200, ""},
		{"photos.write reads photos", []string{"photos.write"}, "GET", "/api/v1/photos/999", 404, "photo_not_found"},
		{"events.read cannot write events", []string{"events.read"}, "POST", "/api/v1/events", 403, "insufficient_scope"},
		{"photos.write cannot read events", []string{"photos.write"}, "GET", "/api/v1/events", 403, "insufficient_scope"},
		{"events.write cannot read photos", []string{"events.write"}, "GET", "/api/v1/photos/1", 403, "insufficient_scope"},
		{"admin reads events", []string{"admin"}, "GET", "/api/v1/events", 200, ""},
		{"admin reads settings", []string{"admin"}, "GET", "/api/v1/settings", 200, ""},
		{"admin reads photos", []string{"admin"}, "GET", "/api/v1/photos/999", 404, "photo_not_found"},
		{"every other scope is not admin", weakerScopes(server.ScopeAdmin), "GET", "/api/v1/tokens", 403, "insufficient_scope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := ts.token(t, tc.scopes...)
			resp, body := ts.do(t, tc.method, tc.path, tok, nil)
			if tc.code != "" {
				wantError(t, resp, body, tc.status, tc.code)
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
		})
	}
}

// TestEchoRoutesMatchTable: every route of the table is served, and Echo serves nothing
// the table does not declare.
func TestEchoRoutesMatchTable(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	want := map[string]bool{}
	for _, rt := range server.RouteTable() {
		key := rt.Method + " " + rt.Path
		if want[key] {
			t.Errorf("route %s declared twice", key)
		}
		want[key] = true
	}
	got := map[string]bool{}
	for _, r := range ts.Srv.EchoRoutes() {
		method, _, _ := strings.Cut(r, " ")
		if strings.HasPrefix(method, "echo_") {
			continue // Echo's own bookkeeping entries (route-not-found handlers)
		}
		got[r] = true
		if !want[r] {
			t.Errorf("Echo serves %s, which the route table does not declare", r)
		}
	}
	var missing []string
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("table routes Echo does not serve: %v", missing)
	}
}
