package httpx

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// EdgeOptions configure the checks every request passes before any route sees it.
type EdgeOptions struct {
	// AllowedHosts are the Host headers served (see ParseHosts); empty means the
	// loopback names and Bind, and any IP address when Bind is every interface.
	AllowedHosts []string
	// Bind is the address the server listens on, for the default allowed hosts.
	Bind string
	// CORSOrigins are the origins (scheme://host[:port]) trusted to send state-changing
	// requests from a browser, and answered with CORS headers; empty: none.
	CORSOrigins []string
	// MinBodyRate is the slowest average rate, in bytes per second, at which a request
	// body may arrive once BodyGrace has passed; 0 turns the check off.
	MinBodyRate int64
	BodyGrace   time.Duration
	// Refused, if set, is told of each request the edge refuses: check names what
	// refused it ("host", "cross-origin", "preflight").
	Refused func(r *http.Request, check string, status int)
	Logger  *slog.Logger
}

// Edge wraps next in the checks that stand between the network and the routes, in
// order: security headers on every answer, the Host allow-list (DNS rebinding), CORS
// for the trusted origins, cross-origin protection of state-changing requests (CSRF),
// and the floor on the rate at which a body arrives.
func Edge(opts EdgeOptions, next http.Handler) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	allowed, err := ParseHosts(opts.AllowedHosts)
	if len(opts.AllowedHosts) == 0 {
		allowed, err = defaultHosts(opts.Bind)
	}
	if err != nil {
		return nil, err
	}
	origins, err := ParseOrigins(opts.CORSOrigins)
	if err != nil {
		return nil, err
	}
	return &edge{hosts: allowed, origins: origins, cop: http.NewCrossOriginProtection(), logger: opts.Logger,
		next: next, rate: opts.MinBodyRate, grace: opts.BodyGrace, refused: opts.Refused}, nil
}

type edge struct {
	hosts   hostList
	origins []string
	cop     *http.CrossOriginProtection
	logger  *slog.Logger
	next    http.Handler
	rate    int64
	grace   time.Duration
	refused func(*http.Request, string, int)
}

// probePaths answer liveness and readiness with no data, so they are served whatever
// the Host: Kubernetes probes and load balancers address a pod by its IP.
var probePaths = []string{"/health", "/healthz", "/readyz", "/ping", "/version", "/v2/health/live", "/v2/health/ready"}

func (e *edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	probe := (r.Method == http.MethodGet || r.Method == http.MethodHead) && slices.Contains(probePaths, r.URL.Path)
	if !probe && !e.hosts.allows(r.Host) {
		e.deny(w, r, "host", "The Host header %q names no host this server answers to (a DNS rebinding attack looks like this). "+
			"If the server is reached by that name, add it to --allowed-hosts (MLSHIP_ALLOWED_HOSTS).", r.Host)
		return
	}
	origin := r.Header.Get("Origin")
	trusted := origin != "" && slices.Contains(e.origins, strings.ToLower(origin))
	if trusted {
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "X-Request-Id, Inference-Header-Content-Length, ETag")
	}
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		e.preflight(w, r, trusted)
		return
	}
	if !trusted && StateChanging(r.Method) {
		if err := e.cop.Check(r); err != nil {
			e.deny(w, r, "cross-origin", "Cross-origin request refused: %s %s from %s. A web page may change this server's state only from an origin listed in --cors-allowed-origins (MLSHIP_CORS_ALLOWED_ORIGINS).",
				r.Method, r.URL.Path, describeOrigin(r))
			return
		}
	}
	if e.rate > 0 && r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		e.limitRate(w, r)
		return
	}
	e.next.ServeHTTP(w, r)
}

// preflight answers a CORS preflight: with the CORS headers for a trusted origin, with
// 403 and none for any other.
func (e *edge) preflight(w http.ResponseWriter, r *http.Request, trusted bool) {
	if !trusted {
		e.deny(w, r, "preflight", "Cross-origin request refused: %s is not listed in --cors-allowed-origins (MLSHIP_CORS_ALLOWED_ORIGINS).", describeOrigin(r))
		return
	}
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST, PUT, PATCH, DELETE")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	w.WriteHeader(http.StatusNoContent)
}

func (e *edge) deny(w http.ResponseWriter, r *http.Request, check, format string, args ...any) {
	if e.refused != nil {
		e.refused(r, check, http.StatusForbidden)
	}
	e.logger.Warn("request refused", "request_id", RequestID(r.Context()), "method", r.Method, "path", r.URL.Path,
		"host", r.Host, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	w.Header().Set("Connection", "close")
	WriteError(w, r, e.logger, fault.New(fault.PermissionDenied, format, args...))
}

func describeOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return fmt.Sprintf("origin %q", o)
	}
	return fmt.Sprintf("a %s page (Sec-Fetch-Site)", r.Header.Get("Sec-Fetch-Site"))
}

// defaultHosts are the Host names served when --allowed-hosts is not given: the
// loopback names and the bind address, on any port. When the server binds every
// interface it cannot know the names it is reached by, so it also serves any Host that
// is an IP address: DNS rebinding needs a name the attacker controls, and a browser
// sends an IP address as Host only to that address.
func defaultHosts(bind string) (hostList, error) {
	hosts := []string{"localhost", "127.0.0.1", "[::1]"}
	if !UnspecifiedBind(bind) {
		hosts = append(hosts, bind)
	}
	l, err := ParseHosts(hosts)
	l.anyIP = UnspecifiedBind(bind)
	return l, err
}

// UnspecifiedBind reports whether bind listens on every interface.
func UnspecifiedBind(bind string) bool {
	ip := net.ParseIP(strings.Trim(bind, "[]"))
	return bind == "" || ip != nil && ip.IsUnspecified()
}

// hostList is a parsed allow-list of Host headers.
type hostList struct {
	any      bool
	anyIP    bool
	names    map[string][]string // name -> ports ("" for any)
	suffixes []hostPattern       // *.example.com
}

type hostPattern struct{ suffix, port string }

// ParseHosts parses allowed-host entries: "*" for any Host; a name or an IP address,
// served on any port; NAME:PORT or [IPv6]:PORT, on that port only; "*.example.com",
// any name under example.com. Names are compared without regard to case.
func ParseHosts(entries []string) (hostList, error) {
	l := hostList{names: map[string][]string{}}
	for _, raw := range entries {
		ent := strings.ToLower(strings.TrimSpace(raw))
		switch {
		case ent == "":
			continue
		case ent == "*":
			l.any = true
			continue
		case strings.Contains(ent, "://") || strings.ContainsAny(ent, "/?#@ "):
			return l, fmt.Errorf("--allowed-hosts %q: give a host name, an IP address or NAME:PORT, not a URL", raw)
		}
		name, port, err := splitHost(ent)
		if err != nil {
			return l, fmt.Errorf("--allowed-hosts %q: %v", raw, err)
		}
		if net.ParseIP(name) == nil && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-._*") != "" {
			return l, fmt.Errorf("--allowed-hosts %q: not a host name", raw)
		}
		if suffix, ok := strings.CutPrefix(name, "*."); ok {
			if suffix == "" || strings.Contains(suffix, "*") {
				return l, fmt.Errorf("--allowed-hosts %q: a wildcard is * or *.DOMAIN", raw)
			}
			l.suffixes = append(l.suffixes, hostPattern{"." + suffix, port})
			continue
		}
		if strings.Contains(name, "*") {
			return l, fmt.Errorf("--allowed-hosts %q: a wildcard is * or *.DOMAIN", raw)
		}
		l.names[name] = append(l.names[name], port)
	}
	return l, nil
}

// splitHost splits a Host header or an allow-list entry into a lower-case name (an IPv6
// address without brackets, no trailing dot) and its port, "" when there is none.
func splitHost(s string) (name, port string, err error) {
	s = strings.ToLower(s)
	if ip := net.ParseIP(s); ip != nil { // a bare IPv6 address has colons but no port
		return ip.String(), "", nil
	}
	name = s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.HasSuffix(s, "]") {
		if name, port, err = net.SplitHostPort(s); err != nil {
			return "", "", err
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("bad port %q", port)
		}
	}
	name = strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "["), "]"), ".")
	if ip := net.ParseIP(name); ip != nil {
		name = ip.String()
	}
	if name == "" {
		return "", "", fmt.Errorf("no host name")
	}
	return name, port, nil
}

func (l hostList) allows(host string) bool {
	if l.any {
		return true
	}
	name, port, err := splitHost(host)
	if err != nil {
		return false
	}
	if l.anyIP && net.ParseIP(name) != nil {
		return true
	}
	for _, p := range l.names[name] {
		if p == "" || p == port {
			return true
		}
	}
	for _, s := range l.suffixes {
		if strings.HasSuffix(name, s.suffix) && (s.port == "" || s.port == port) {
			return true
		}
	}
	return false
}

// ParseOrigins checks and normalises CORS origins: each is scheme://host[:port], http
// or https, with no path.
func ParseOrigins(entries []string) ([]string, error) {
	var out []string
	for _, raw := range entries {
		o := strings.TrimSpace(raw)
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("--cors-allowed-origins %q: an origin is scheme://host[:port], such as https://ui.example.com", raw)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}
