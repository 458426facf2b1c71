// Package netguard decides which network addresses the server may connect to on behalf of
// a client: a webhook URL in a deployment spec is the client's choice, and without a
// guard it would let anyone who can create a deployment make the server reach its own
// loopback services, the cloud metadata endpoint (169.254.169.254) or the private
// network behind it (server-side request forgery).
//
// A Policy refuses loopback, link-local, private, carrier-grade NAT, unspecified,
// multicast and reserved addresses, in IPv4, IPv6 and IPv4-mapped IPv6 forms, unless the
// operator allows them. The check runs in the dialer's Control hook, on the address the
// connection is actually made to after name resolution, so a name that resolves to a
// refused address (DNS rebinding included) and every redirect are refused as well.
package netguard

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is wrapped by every refusal, so errors.Is(err, ErrRefused) tells a refused
// destination from a network failure.
var ErrRefused = errors.New("outbound connection refused by policy")

// blocked are the ranges refused unless allowed: everything that is not a public unicast
// address of the internet.
var blocked = mustPrefixes(
	"0.0.0.0/8",      // "this network", incl. the unspecified 0.0.0.0
	"10.0.0.0/8",     // private
	"100.64.0.0/10",  // carrier-grade NAT
	"127.0.0.0/8",    // loopback
	"169.254.0.0/16", // link-local, incl. cloud metadata 169.254.169.254
	"172.16.0.0/12",  // private
	"192.0.0.0/24",   // IETF protocol assignments
	"192.168.0.0/16", // private
	"198.18.0.0/15",  // benchmarking
	"224.0.0.0/4",    // multicast
	"240.0.0.0/4",    // reserved, incl. broadcast 255.255.255.255
	"::/96",          // unspecified, loopback and IPv4-compatible
	"64:ff9b::/96",   // NAT64: an IPv4 address in IPv6 clothes
	"64:ff9b:1::/48", // local-use NAT64
	"2002::/16",      // 6to4: embeds an IPv4 address
	"fc00::/7",       // unique local (private)
	"fe80::/10",      // link-local
	"fec0::/10",      // site-local (deprecated, still routed by some)
	"ff00::/8",       // multicast
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// Policy is the set of destinations the operator allows besides public addresses.
// The zero Policy allows public addresses only.
type Policy struct {
	prefixes []netip.Prefix   // allowed on any port
	hosts    []netip.AddrPort // allowed on one port
}

// Parse reads the operator's allow-list (--allowed-outbound): each entry is a CIDR
// prefix ("10.0.0.0/8", "127.0.0.1/32"), a single address ("192.168.1.5", "::1"), or an
// address with a port ("127.0.0.1:9000", "[::1]:9000"). Host names are not accepted:
// the check is made on the address connected to, and a name can change its address.
func Parse(entries []string) (*Policy, error) {
	p := &Policy{}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(e); err == nil {
			p.prefixes = append(p.prefixes, pfx.Masked())
			continue
		}
		if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
			p.prefixes = append(p.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		if ap, err := netip.ParseAddrPort(e); err == nil {
			p.hosts = append(p.hosts, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			continue
		}
		return nil, fmt.Errorf("%q is not a CIDR prefix, an IP address or an IP:port (host names are not accepted)", e)
	}
	return p, nil
}

// Check returns nil when a connection to addr is allowed, and an error wrapping
// ErrRefused when it is not.
func (p *Policy) Check(addr netip.AddrPort) error {
	a := addr.Addr().Unmap().WithZone("")
	if !isBlocked(a) || p.allows(netip.AddrPortFrom(a, addr.Port())) {
		return nil
	}
	return fmt.Errorf("%w: %s is a loopback, private, link-local or otherwise non-public address; "+
		"the operator can allow it with --allowed-outbound", ErrRefused, addr)
}

func isBlocked(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	for _, b := range blocked {
		if b.Contains(a) {
			return true
		}
	}
	return false
}

func (p *Policy) allows(ap netip.AddrPort) bool {
	if p == nil {
		return false
	}
	for _, pfx := range p.prefixes {
		if pfx.Contains(ap.Addr()) {
			return true
		}
	}
	for _, h := range p.hosts {
		if h == ap {
			return true
		}
	}
	return false
}

// control is a net.Dialer Control hook: it sees the resolved address of every connection
// attempt, after DNS and before connect.
func (p *Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot read the address %q", ErrRefused, address)
	}
	return p.Check(ap)
}

// Dialer returns a dialer that refuses the destinations p does not allow.
func (p *Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: p.control}
}

// maxRedirects caps the redirects a guarded client follows; each one is checked again.
const maxRedirects = 3

// Client returns an HTTP client whose every connection, redirects included, goes
// through p's dialer. It uses no proxy from the environment: a proxy would make the
// connection, and the guard would see only the proxy's address.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.Dialer(10 * time.Second).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: redirect to a %q URL", ErrRefused, req.URL.Scheme)
			}
			return nil
		}}
}

// CheckURL refuses a URL whose host is a literal address (or "localhost") that p does
// not allow, so that a spec naming one is refused when it is written, not only when it
// is used. Host names are checked when connecting.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	var addr netip.Addr
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		addr = netip.MustParseAddr("127.0.0.1")
	default:
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil // a name: resolved and checked at connect time
		}
		addr = a
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(addr.WithZone("").String(), cmp.Or(port, "0")))
	if err != nil {
		return fmt.Errorf("%w: bad port %q", ErrRefused, port)
	}
	return p.Check(ap)
}
