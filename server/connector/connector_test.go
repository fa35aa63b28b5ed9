package connector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSealerRoundTripAndWrongKey(t *testing.T) {
	s, err := NewSealer(strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal(Credentials{ClientID: "id", ClientSecret: "very-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "very-secret") || !strings.HasPrefix(sealed, "v1:") {
		t.Fatalf("sealed form shows the secret or lacks its version: %s", sealed)
	}
	got, err := s.Open(sealed)
	if err != nil || got.ClientSecret != "very-secret" {
		t.Fatalf("open: %+v %v", got, err)
	}
	other, _ := NewSealer(strings.Repeat("cd", 32))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("another key opened the credentials")
	}
	if _, err := NewSealer("too-short"); err == nil {
		t.Fatal("a short key was accepted")
	}
	none, _ := NewSealer("")
	if _, err := none.Seal(Credentials{}); err != ErrNoKey {
		t.Fatalf("seal without a key: %v", err)
	}
}

func TestClientRetriesWhatIsSafeOnly(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c := &client{http: srv.Client(), maxTries: 5, backoff: time.Millisecond, defaultWait: time.Second}
	build := func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
	}
	resp, err := c.do(context.Background(), call{op: "safe", safe: true, build: build})
	if err != nil || resp.Status != 200 || hits.Load() != 3 {
		t.Fatalf("safe call: %v, %d hits", err, hits.Load())
	}
	hits.Store(0)
	_, err = c.do(context.Background(), call{op: "unsafe", build: build})
	if !isAmbiguous(err) || hits.Load() != 1 {
		t.Fatalf("an unsafe call after a 5xx must stop as ambiguous after one try: %v, %d hits", err, hits.Load())
	}
}

func TestClientRefreshesTokenOnceOn401(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	c := &client{http: srv.Client(), maxTries: 3, backoff: time.Millisecond}
	var forced int
	auth := func(_ context.Context, req *http.Request, force bool) error {
		tok := "stale"
		if force {
			forced++
			tok = "fresh"
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		return nil
	}
	build := func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	}
	if _, err := c.do(context.Background(), call{op: "get", safe: true, build: build, auth: auth}); err != nil || forced != 1 {
		t.Fatalf("401 then a new token: %v, forced %d", err, forced)
	}
}

func TestRetryAfterReadsHeaders(t *testing.T) {
	c := &client{defaultWait: 7 * time.Second, rateHeaders: "X-Rate-Limit-"}
	if d := c.retryAfter(http.Header{"Retry-After": {"3"}}); d != 3*time.Second {
		t.Fatalf("Retry-After seconds: %s", d)
	}
	reset := time.Now().Add(5 * time.Second).Unix()
	if d := c.retryAfter(http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(reset, 10)}}); d < 4*time.Second || d > 7*time.Second {
		t.Fatalf("reset header: %s", d)
	}
	if d := c.retryAfter(http.Header{}); d != 7*time.Second {
		t.Fatalf("default: %s", d)
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"../../etc/passwd": "passwd.jpg", `C:\shots\DSC 01.JPG`: "DSC 01.jpg", "": "photo.jpg", "a?b*.heic": "a_b_.jpg"} {
		if got := safeName(in, "jpeg"); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}
