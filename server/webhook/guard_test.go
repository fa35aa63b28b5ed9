package webhook

// Unit tests of the SSRF guard. No network is used: only IP literals, "localhost" (from
// /etc/hosts) and a loopback listener of the test itself.

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// noDNS makes any DNS lookup of g fail loudly, so a test proves that IP literals are
// judged without resolution.
func noDNS(t *testing.T, g *Guard) {
	t.Helper()
	g.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		t.Errorf("the guard made a DNS query (%s %s) for an IP literal", network, address)
		return nil, errors.New("no DNS in this test")
	}}
}

func mustGuard(t *testing.T, allowed ...string) *Guard {
	t.Helper()
	g, err := NewGuard(allowed)
	if err != nil {
		t.Fatalf("NewGuard(%q): %v", allowed, err)
	}
	return g
}

// refusedWithoutAllowance are addresses no receiver may use unless the operator allows them.
var refusedWithoutAllowance = []string{
	"http://127.0.0.1:9/x",
	"http://127.9.9.9/x",
	"http://[::1]:9/x",
	"http://[::ffff:127.0.0.1]:9/x", // IPv4-mapped loopback
	"http://[::ffff:10.1.2.3]/x",    // IPv4-mapped private
	"http://10.1.2.3/x",
	"http://172.16.0.1/x",
	"http://172.31.255.254/x",
	"http://192.168.1.1/",
	"http://169.254.169.254/latest/meta-data", // cloud metadata (link-local)
	"http://[fe80::1]/x",                      // IPv6 link-local
	"http://[fd00:ec2::254]/latest/meta-data", // AWS metadata over IPv6
	"http://[fc00::1]/x",                      // unique local
	"http://0.0.0.0/x",
	"http://0.1.2.3/x", // "this network"
	"http://[::]/x",
	"http://100.64.0.1/x",      // carrier-grade NAT
	"http://100.100.100.200/x", // Alibaba metadata, inside CGNAT
	"http://192.0.0.170/x",     // IETF protocol assignments
	"http://198.18.0.1/x",      // benchmarking
	"http://224.0.0.1/x",       // multicast
	"http://[ff02::1]/x",       // IPv6 multicast
	"https://127.0.0.1:8443/x",
}

func TestGuardRefusesInternalAddressesWithoutResolving(t *testing.T) {
	g := mustGuard(t)
	noDNS(t, g)
	for _, u := range refusedWithoutAllowance {
		err := g.CheckURL(context.Background(), u)
		if err == nil {
			t.Errorf("CheckURL(%s) = nil, want refused", u)
			continue
		}
		if !errors.Is(err, ErrURLNotAllowed) {
			t.Errorf("CheckURL(%s) = %v, want ErrURLNotAllowed", u, err)
		}
	}
}

func TestGuardAllowsPublicAddressesWithoutResolving(t *testing.T) {
	g := mustGuard(t)
	noDNS(t, g)
	for _, u := range []string{
		"http://93.184.216.34/hook",
		"https://93.184.216.34:8443/hook?x=1",
		"http://[2606:2800:220:1:248:1893:25c8:1946]/hook",
		"http://8.8.8.8/",
		"http://172.32.0.1/x",  // just outside 172.16/12
		"http://100.128.0.1/x", // just outside 100.64/10
		"http://169.255.0.1/x", // just outside link-local
		"http://11.0.0.1/x",    // just outside 10/8
		"http://192.169.0.1/x", // just outside 192.168/16
		"http://198.20.0.1/x",  // just outside 198.18/15
	} {
		if err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%s) = %v, want allowed", u, err)
		}
	}
}

func TestGuardRefusesMalformedURLs(t *testing.T) {
	g := mustGuard(t, "127.0.0.0/8", "localhost")
	noDNS(t, g)
	for _, u := range []string{
		"",
		"ftp://93.184.216.34/x",
		"file:///etc/passwd",
		"gopher://93.184.216.34/",
		"javascript:alert(1)",
		"93.184.216.34/x",
		"//93.184.216.34/x",
		"/relative/path",
		"http://",
		"http:///x",
		"http://:80/x",
		"http://user:pass@93.184.216.34/x",
		"http://user@93.184.216.34/x",
		"http://user:pass@127.0.0.1/x", // allowed host, but credentials are never accepted
		"http://[::1",                  // unparsable
	} {
		err := g.CheckURL(context.Background(), u)
		if !errors.Is(err, ErrURLNotAllowed) {
			t.Errorf("CheckURL(%q) = %v, want ErrURLNotAllowed", u, err)
		}
	}
	if err := g.CheckURL(context.Background(), "http://user:pass@127.0.0.1/x"); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("credentials: the error should say why, got %v", err)
	}
}

func TestGuardAllowedHostsIPsAndCIDRs(t *testing.T) {
	g := mustGuard(t, " 127.0.0.1 ", "10.0.0.0/8", "[::1]", "fd00:1234::/32", "Hooks.Internal.", "", "192.168.1.7")
	noDNS(t, g)
	allowed := []string{
		"http://127.0.0.1:9/x",
		"http://[::ffff:127.0.0.1]:9/x", // the mapped form of an allowed IP is the same address
		"http://10.1.2.3/x",
		"http://10.255.255.255/x",
		"http://[::1]:9/x",
		"http://[fd00:1234::1]/x",
		"http://192.168.1.7/x",
	}
	for _, u := range allowed {
		if err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("CheckURL(%s) = %v, want allowed by the list", u, err)
		}
	}
	refused := []string{
		"http://127.0.0.2/x",      // only 127.0.0.1 was listed, not the range
		"http://192.168.1.8/x",    // only .7 was listed
		"http://172.16.0.1/x",     // not listed
		"http://169.254.169.254/", // not listed
		"http://[fd00:1235::1]/x", // outside the listed /32
		"http://[fe80::1]/x",
	}
	for _, u := range refused {
		if err := g.CheckURL(context.Background(), u); !errors.Is(err, ErrURLNotAllowed) {
			t.Errorf("CheckURL(%s) = %v, want refused", u, err)
		}
	}
}

func TestGuardBadCIDRIsAnError(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "not-a-cidr/8", "::1/129"} {
		if _, err := NewGuard([]string{bad}); err == nil {
			t.Errorf("NewGuard(%q) = nil error, want one", bad)
		}
	}
}

func TestGuardLocalhostResolvesToLoopback(t *testing.T) {
	// "localhost" comes from /etc/hosts, not from the network.
	g := mustGuard(t)
	err := g.CheckURL(context.Background(), "http://localhost:9/x")
	if !errors.Is(err, ErrURLNotAllowed) {
		t.Fatalf("CheckURL(localhost) = %v, want refused (it resolves to loopback)", err)
	}
	if !strings.Contains(err.Error(), "localhost") {
		t.Errorf("the error should name the host: %v", err)
	}
	err = g.CheckURL(context.Background(), "http://LOCALHOST./x")
	if !errors.Is(err, ErrURLNotAllowed) {
		t.Fatalf("CheckURL(LOCALHOST.) = %v, want refused", err)
	}
	// Allowing the host name lets it through whatever it resolves to.
	if err := mustGuard(t, "localhost").CheckURL(context.Background(), "http://localhost:9/x"); err != nil {
		t.Errorf("with localhost allowed: %v", err)
	}
	// Allowing the whole loopback range of both families lets it through too.
	if err := mustGuard(t, "127.0.0.0/8", "::1").CheckURL(context.Background(), "http://localhost:9/x"); err != nil {
		t.Errorf("with loopback ranges allowed: %v", err)
	}
}

// TestGuardDialContextChecksAtDialTime proves the dial itself is guarded: a refused
// address is never connected to, an allowed one is.
func TestGuardDialContextChecksAtDialTime(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	refusing := mustGuard(t)
	noDNS(t, refusing)
	conn, err := refusing.DialContext(context.Background(), "tcp", addr)
	if err == nil {
		conn.Close()
		t.Fatalf("DialContext(%s) without allowance connected", addr)
	}
	if !errors.Is(err, ErrURLNotAllowed) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("DialContext error = %v, want ErrURLNotAllowed naming 127.0.0.1", err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: refusing.DialContext}}
	if resp, err := client.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Fatal("a request through the refusing guard reached the loopback server")
	}
	if hits != 0 {
		t.Fatalf("the receiver got %d requests through a refusing guard", hits)
	}

	allowing := mustGuard(t, "127.0.0.1")
	client = &http.Client{Transport: &http.Transport{DialContext: allowing.DialContext}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("request through the allowing guard: %v", err)
	}
	resp.Body.Close()
	if hits != 1 {
		t.Fatalf("hits = %d, want 1", hits)
	}
	if _, err := allowing.DialContext(context.Background(), "tcp", "no-port"); err == nil {
		t.Error("DialContext without a port should fail")
	}
}
