package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrURLNotAllowed means a receiver URL is not acceptable: bad form, or it leads to an
// address the guard refuses.
var ErrURLNotAllowed = errors.New("webhook url not allowed")

// Guard keeps webhook requests away from the server's own network (SSRF): loopback,
// private, link-local (with cloud metadata), CGNAT, unspecified and multicast addresses
// are refused unless the operator allowed the host, IP or range.
type Guard struct {
	hosts    map[string]bool
	prefixes []netip.Prefix
	resolver *net.Resolver
}

// NewGuard builds a guard from GALLERIST_WEBHOOK_ALLOWED_HOSTS entries: host names, IPs
// or CIDRs.
func NewGuard(allowed []string) (*Guard, error) {
	g := &Guard{hosts: map[string]bool{}, resolver: net.DefaultResolver}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "":
		case strings.Contains(a, "/"):
			p, err := netip.ParsePrefix(a)
			if err != nil {
				return nil, fmt.Errorf("allowed webhook host %q: %w", a, err)
			}
			g.prefixes = append(g.prefixes, p.Masked())
		default:
			if ip, err := netip.ParseAddr(strings.Trim(a, "[]")); err == nil {
				g.prefixes = append(g.prefixes, netip.PrefixFrom(ip, ip.BitLen()))
			} else {
				g.hosts[a] = true
			}
		}
	}
	return g, nil
}

// blocked are ranges refused beyond what netip's predicates cover.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),         // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),     // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),      // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),     // benchmarking
	netip.MustParsePrefix("fd00:ec2::254/128"), // AWS metadata over IPv6 (also in fc00::/7)
	netip.MustParsePrefix("64:ff9b::/96"),      // NAT64: an IPv4 address inside IPv6
	netip.MustParsePrefix("64:ff9b:1::/48"),    // local-use NAT64
	netip.MustParsePrefix("2002::/16"),         // 6to4: an IPv4 address inside IPv6
	netip.MustParsePrefix("::/96"),             // IPv4-compatible IPv6 (deprecated)
}

// allowedIP reports whether a request may go to ip.
func (g *Guard) allowedIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range g.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL validates a receiver URL: http or https, a host, no credentials, and every
// address the host resolves to allowed.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: must be an absolute http or https URL", ErrURLNotAllowed)
	}
	if u.User != nil {
		return fmt.Errorf("%w: must not carry a user name or password", ErrURLNotAllowed)
	}
	_, err = g.resolve(ctx, u.Hostname())
	return err
}

// resolve returns the addresses a request to host may use; an allowed host name skips the
// address checks.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if !g.hosts[host] && !g.allowedIP(ip) {
			return nil, fmt.Errorf("%w: %s is a loopback, private, link-local or reserved address", ErrURLNotAllowed, ip)
		}
		return []netip.Addr{ip}, nil
	}
	ips, err := g.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot resolve %s: %v", ErrURLNotAllowed, host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%w: %s has no address", ErrURLNotAllowed, host)
	}
	if g.hosts[host] {
		return ips, nil
	}
	for _, ip := range ips {
		if !g.allowedIP(ip) {
			return nil, fmt.Errorf("%w: %s resolves to %s, a loopback, private, link-local or reserved address", ErrURLNotAllowed, host, ip.Unmap())
		}
	}
	return ips, nil
}

// DialContext resolves and checks the host at the moment of the request, then dials the
// checked address itself, so a DNS answer that changes after the check (rebinding) is
// never used.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var lastErr error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, lastErr
}
