package httpx

import (
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
)

// Body declares the request bodies a route takes: the media types it reads, and the
// status a body of another type is refused with. Every route that changes state
// declares one; the Router enforces it before the handler runs, so a web page cannot
// reach a JSON handler with a form or a text/plain body (the request types a browser
// sends across origins without asking first).
type Body struct {
	types   []string // media types, lower case; "" admits a body with no Content-Type
	anyType bool
	status  int
	code    string
}

// JSON is the body of a JSON route: application/json (with parameters such as charset).
var JSON = Body{types: []string{"application/json"}, status: http.StatusUnsupportedMediaType, code: "BAD_REQUEST"}

// AnyType is the body of a route that stores what it is given under the type the client
// declared (an artifact upload keeps its own type), or whose decoder checks the type
// itself with the protocol's own answer (MLflow's /invocations).
var AnyType = Body{anyType: true}

// Accepts is a body of one of the given media types; "" admits a body sent with no
// Content-Type, as some inference clients send theirs.
func Accepts(types ...string) Body {
	b := Body{status: http.StatusUnsupportedMediaType, code: "BAD_REQUEST"}
	for _, t := range types {
		b.types = append(b.types, strings.ToLower(t))
	}
	return b
}

// RefusedWith returns b answering a body of another type with status and error code
// (MLflow's REST API answers 400 INVALID_PARAMETER_VALUE, and its clients expect it).
func (b Body) RefusedWith(status int, code string) Body {
	b.status, b.code = status, code
	return b
}

func (b Body) declared() bool { return b.anyType || len(b.types) > 0 }

// Types returns the media types b accepts ("*/*" for AnyType).
func (b Body) Types() []string {
	if b.anyType {
		return []string{"*/*"}
	}
	return slices.Clone(b.types)
}

// Check returns nil when r's body is one that b accepts. An empty body passes whatever
// its declared type: a DELETE or a POST with nothing to say changes nothing by its body.
func (b Body) Check(r *http.Request) error {
	if b.anyType || r.ContentLength == 0 {
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && slices.Contains(b.types, "") {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(ct); err == nil && slices.Contains(b.types, mt) {
		return nil
	}
	var want []string
	for _, t := range b.types {
		if t != "" {
			want = append(want, "'"+t+"'")
		}
	}
	return &CodedError{Code: b.code, Status: b.status, Err: fault.Invalidf(
		"Bad Request. Content-Type must be %s; got '%s'.", strings.Join(want, " or "), ct)}
}

// Access is what a route needs of its caller when the server checks identities. Every
// route declares one: the Router refuses a route without, so a route nobody thought
// about cannot be reached by anyone (deny by default).
type Access uint8

const (
	accessUndeclared Access = iota
	Public                  // anyone: probes, the server's version, signing in
	Signed                  // any signed-in identity: who it is, its own tokens
	Read                    // reading tracking, registry, datasets, deployments; calling models
	Write                   // changing tracking, registry and datasets
	Deploy                  // creating, changing and deleting deployments
	Admin                   // users, every token, server-wide maintenance
	// Inference is calling a deployment's model: Public when the deployment the request
	// names is public, Read otherwise. It is decided per request by the route's
	// PublicIf, and is the only access a state-changing method may resolve to Public
	// with: an inference call answers and changes nothing.
	Inference
)

var accessNames = [...]string{"undeclared", "public", "signed", "read", "write", "deploy", "admin", "inference"}

func (a Access) String() string {
	if int(a) < len(accessNames) {
		return accessNames[a]
	}
	return "access(" + strconv.Itoa(int(a)) + ")"
}

// Route is one endpoint: its method, its path (a ServeMux pattern path, or a prefix for
// a mounted route), what body it takes, what it needs of its caller, and its handler.
type Route struct {
	Method string
	Path   string
	Body   Body
	Access Access
	// PublicIf, for an Inference route only, reports whether the object a request names
	// is open to anyone (a public deployment); when it is not, the route needs Read.
	PublicIf func(*http.Request) bool
	Handler  http.Handler
}

// Needs returns what r needs of its caller on this route: the declared access, or, for
// an Inference route, Public or Read as the object r names decides.
func (rt Route) Needs(r *http.Request) Access {
	if rt.Access != Inference {
		return rt.Access
	}
	if rt.PublicIf(r) {
		return Public
	}
	return Read
}

// StateChanging reports whether a request with this method may change state: every
// method but GET, HEAD and OPTIONS.
func StateChanging(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// RouterOptions configure a Router.
type RouterOptions struct {
	// Wrap, if set, wraps each route's handler after its body check: the place for a
	// check every route declares, such as the permission it needs.
	Wrap func(Route, http.Handler) http.Handler
	// Refused, if set, is told of a request refused for its body's type before the
	// route's handler (and Wrap) ran, with the status it was answered.
	Refused func(Route, *http.Request, int)
	Logger  *slog.Logger
}

// Router is the one place routes are registered: each route declares its method and
// the body it takes, and the Router checks the body before the handler runs. Routes()
// lists them all, for the tests that walk every route.
type Router struct {
	mux    *http.ServeMux
	opts   RouterOptions
	routes []Route
	mounts []mount
}

// mount is a prefix whose requests are dispatched by the Router without the mux's path
// cleaning and redirects, for handlers that validate raw client paths themselves.
type mount struct {
	prefix   string
	routes   []Route
	fallback http.Handler
}

// NewRouter returns an empty Router.
func NewRouter(opts RouterOptions) *Router {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{mux: http.NewServeMux(), opts: opts}
}

// Handle registers rt. It panics when rt changes state and declares no body, so a
// route cannot be added without saying what it takes.
func (rt *Router) Handle(r Route) {
	rt.mux.Handle(r.Method+" "+r.Path, rt.guard(r))
	rt.routes = append(rt.routes, r)
}

// Fallback registers h for every method on pattern, for the answers to paths no route
// matches (404, 405). A fallback must not change state.
func (rt *Router) Fallback(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
}

// Mount dispatches every request under prefix to the route among routes whose method
// matches and whose Path is the request's path or a parent of it, with the request's
// path untouched; anything else under prefix goes to fallback.
func (rt *Router) Mount(prefix string, routes []Route, fallback http.Handler) {
	m := mount{prefix: prefix, fallback: fallback}
	for _, r := range routes {
		m.routes = append(m.routes, Route{Method: r.Method, Path: r.Path, Body: r.Body, Access: r.Access, PublicIf: r.PublicIf, Handler: rt.guard(r)})
		rt.routes = append(rt.routes, r)
	}
	rt.mounts = append(rt.mounts, m)
}

// guard checks what r declares before calling its handler.
func (rt *Router) guard(r Route) http.Handler {
	if r.Method == "" || strings.ContainsAny(r.Method, " /") {
		panic(fmt.Sprintf("httpx: route %q %q has no method", r.Method, r.Path))
	}
	if StateChanging(r.Method) && !r.Body.declared() {
		panic(fmt.Sprintf("httpx: route %s %s changes state and declares no body", r.Method, r.Path))
	}
	if r.Access == accessUndeclared || int(r.Access) >= len(accessNames) {
		panic(fmt.Sprintf("httpx: route %s %s declares no access (Public, Signed, Read, Write, Deploy, Admin or Inference)", r.Method, r.Path))
	}
	if (r.Access == Inference) != (r.PublicIf != nil) {
		panic(fmt.Sprintf("httpx: route %s %s: an Inference route, and only one, says by PublicIf which requests are public", r.Method, r.Path))
	}
	if r.Access == Public && StateChanging(r.Method) {
		panic(fmt.Sprintf("httpx: route %s %s changes state and is public", r.Method, r.Path))
	}
	h := r.Handler
	if rt.opts.Wrap != nil {
		h = rt.opts.Wrap(r, h)
	}
	if !StateChanging(r.Method) {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := r.Body.Check(req); err != nil {
			if rt.opts.Refused != nil {
				rt.opts.Refused(r, req, r.Body.status)
			}
			WriteError(w, req, rt.opts.Logger, err)
			return
		}
		h.ServeHTTP(w, req)
	})
}

// Routes returns every registered route, mounted ones included.
func (rt *Router) Routes() []Route { return slices.Clone(rt.routes) }

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, m := range rt.mounts {
		if strings.HasPrefix(r.URL.Path, m.prefix) {
			m.serve(w, r)
			return
		}
	}
	rt.mux.ServeHTTP(w, r)
}

func (m mount) serve(w http.ResponseWriter, r *http.Request) {
	var best *Route
	for i, rt := range m.routes {
		p := rt.Path
		under := r.URL.Path == p || strings.HasPrefix(r.URL.Path, strings.TrimSuffix(p, "/")+"/")
		if under && rt.Method == r.Method && (best == nil || len(p) > len(best.Path)) {
			best = &m.routes[i]
		}
	}
	if best == nil {
		m.fallback.ServeHTTP(w, r)
		return
	}
	best.Handler.ServeHTTP(w, r)
}
