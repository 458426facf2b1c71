package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/store"
)

// wrapRoute is the Router's wrapper: with --auth, the route's access check; for every
// route that changes state, with or without --auth, the audit trail.
func (s *Server) wrapRoute(rt httpx.Route, h http.Handler) http.Handler {
	if rt.Path == metricsPath && s.scrapeToken != nil {
		return s.checkScrape(rt, h)
	}
	audited := auditable(rt)
	if audited {
		h = s.joinTrail(h)
	}
	if s.cfg.Auth {
		h = s.checkAccess(rt, h)
	}
	if audited {
		h = s.auditRequest(rt, h)
	}
	return h
}

// auditable reports whether requests to rt are recorded: the routes that change state.
// Searches sent as POST and inference calls only read, and need no more than Read.
func auditable(rt httpx.Route) bool {
	return httpx.StateChanging(rt.Method) && rt.Access != httpx.Read && rt.Access != httpx.Public && rt.Access != httpx.Inference
}

// pendingAudit is a request's record while it is answered.
type pendingAudit struct {
	entry audit.Entry
	trail *store.Trail // nil until the request passed its access check
}

type pendingKey struct{}

// auditRequest records a request to rt: its record joins the transaction of the first
// change it makes (joinTrail); a request that is refused, fails, or succeeds without a
// change in the database (an artifact upload) is recorded on its own after its answer.
func (s *Server) auditRequest(rt httpx.Route, h http.Handler) http.Handler {
	route := rt.Method + " " + rt.Path
	action := rt.Method + " " + apiPath(rt.Path)
	kind := objectKind(rt.Path)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := &pendingAudit{entry: audit.Entry{Address: clientAddress(r), Route: route, Action: action,
			ObjectKind: kind, RequestID: httpx.RequestID(r.Context())}}
		p.entry.Object = objectName(rt, r, kind)
		rec := &auditRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), pendingKey{}, p)))
		s.settleAudit(r, rec.status, p)
	})
}

// joinTrail runs after the access check: the record now knows its actor, and rides in
// the request's context to the first write the handler makes.
func (s *Server) joinTrail(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := r.Context().Value(pendingKey{}).(*pendingAudit)
		if p == nil {
			h.ServeHTTP(w, r)
			return
		}
		if id := auth.From(r.Context()); id != nil {
			p.entry.Actor, p.entry.TokenID = id.Name, id.TokenID
		} else if !s.cfg.Auth {
			p.entry.Actor = "local"
		}
		p.trail = s.audit.Trail(p.entry)
		h.ServeHTTP(w, r.WithContext(store.WithTrail(r.Context(), p.trail)))
	})
}

// settleAudit records what the request's own transaction did not: a refusal, a
// failure, a success that changed no row, or a failure after a committed change.
func (s *Server) settleAudit(r *http.Request, status int, p *pendingAudit) {
	if status == 0 {
		status = http.StatusOK
	}
	committed := p.trail != nil && p.trail.Committed()
	if committed && status < 400 {
		return
	}
	e := p.entry
	if p.trail != nil {
		e.Object, e.Action = p.trail.Described(e.Object, e.Action)
	}
	e.Status = status
	switch {
	case status < 400:
		e.Outcome = audit.Succeeded
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests:
		e.Outcome = audit.Denied
	default:
		e.Outcome = audit.Failed
	}
	if p.trail == nil && e.Actor == "" {
		e.Actor = s.claimedActor(r, status)
	}
	s.record(r, e, "audit: record a request")
}

// record writes e on its own, after r was answered (even if its client went away).
func (s *Server) record(r *http.Request, e audit.Entry, failure string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := s.audit.Record(ctx, e); err != nil {
		s.logger.Error(failure, "err", err, "route", e.Route, "request_id", e.RequestID)
	}
}

// claimedActor names the caller of a request refused before its identity was
// established: the user name it sent, or the owner of a valid token it lacked the scope
// for. Nothing a client sends is believed without its credentials, except as a claim.
func (s *Server) claimedActor(r *http.Request, status int) string {
	if !s.cfg.Auth {
		return "local"
	}
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return ""
		}
		name, password, _ := strings.Cut(string(raw), ":")
		if !strings.HasPrefix(password, auth.TokenPrefix) {
			return name
		}
		cred = password
	case "bearer":
	default:
		return ""
	}
	if status != http.StatusForbidden {
		return ""
	}
	if id, err := s.auth.Verify(r.Context(), cred); err == nil {
		return id.Name
	}
	return ""
}

// refusedAccess records a request the access check refused on a route whose requests
// are not otherwise recorded (reads, inference): a 401 or 403 before any handler ran.
// Routes that change state record their refusals themselves (settleAudit).
func (s *Server) refusedAccess(rt httpx.Route, r *http.Request, status int) {
	if auditable(rt) {
		return
	}
	s.recordRefusal(r, routeEntry(rt, r), status)
}

// refusedBody records a request refused for its body's type before its route ran.
func (s *Server) refusedBody(rt httpx.Route, r *http.Request, status int) {
	s.recordRefusal(r, routeEntry(rt, r), status)
}

// routeEntry is the record of a request to rt, before anything is known of its answer.
func routeEntry(rt httpx.Route, r *http.Request) audit.Entry {
	kind := objectKind(rt.Path)
	return audit.Entry{Route: rt.Method + " " + rt.Path, Action: rt.Method + " " + apiPath(rt.Path),
		ObjectKind: kind, Object: objectName(rt, r, kind)}
}

// refusedAtEdge records a request the edge refused before any route saw it: a Host
// this server does not answer to, or a cross-origin request. Its route is the check
// that refused it, so that a flood of paths is recorded once a minute per address.
func (s *Server) refusedAtEdge(r *http.Request, check string, status int) {
	s.recordRefusal(r, audit.Entry{Route: "edge " + check, Action: r.Method + " " + truncate(apiPath(r.URL.Path), 200)}, status)
}

// recordRefusal writes e as a refusal of r, at most once a minute per actor, address
// and route (audit.Log.Record).
func (s *Server) recordRefusal(r *http.Request, e audit.Entry, status int) {
	e.Address, e.RequestID, e.Status, e.Outcome = clientAddress(r), httpx.RequestID(r.Context()), status, audit.Denied
	if id := auth.From(r.Context()); id != nil {
		e.Actor, e.TokenID = id.Name, id.TokenID
	} else {
		e.Actor = s.claimedActor(r, 0)
	}
	s.record(r, e, "audit: record a refusal")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// auditRecorder remembers the status a handler answered with.
type auditRecorder struct {
	http.ResponseWriter
	status int
}

func (a *auditRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *auditRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (a *auditRecorder) Unwrap() http.ResponseWriter { return a.ResponseWriter }

func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// apiPrefixes are trimmed from a route's path to name its action.
var apiPrefixes = []string{"/ajax-api/2.0/mlflow/", "/ajax-api/3.0/mlflow/", "/api/2.0/mlflow-artifacts/",
	"/api/2.0/mlflow/", "/api/3.0/mlflow/", "/api/v1/"}

func apiPath(path string) string {
	for _, p := range apiPrefixes {
		if rest, ok := strings.CutPrefix(path, p); ok {
			return rest
		}
	}
	return strings.TrimPrefix(path, "/")
}

// objectKind is the kind of object a route changes, from its path.
func objectKind(path string) string {
	p := apiPath(path)
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(p, x) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(p, "auth/"): // logout ends a user's session
		return audit.User
	case has("alias"):
		return audit.Alias
	case has("benchmark"):
		return audit.Benchmark
	case strings.HasPrefix(p, "artifacts") || strings.HasPrefix(p, "mpu/"):
		return audit.Artifact
	case has("model-versions", "/versions/{version}"):
		return audit.ModelVersion
	case has("registered-models") || strings.HasPrefix(p, "models/"):
		return audit.RegisteredModel
	case has("logged-models"):
		return audit.LoggedModel
	case strings.HasPrefix(p, "traces"), p == "v1/traces":
		return audit.Trace
	case strings.HasPrefix(p, "runs/"):
		return audit.Run
	case strings.HasPrefix(p, "experiments/"):
		return audit.Experiment
	case strings.HasPrefix(p, "scorers/"): // a scorer is its experiment's
		return audit.Experiment
	case strings.HasPrefix(p, "datasets"):
		return audit.Dataset
	case strings.HasPrefix(p, "deployments"):
		return audit.Deployment
	case has("permissions"):
		return audit.Permission
	case strings.HasPrefix(p, "teams"), strings.HasPrefix(p, "roles"): // MLflow's roles are teams
		return audit.Team
	case strings.HasPrefix(p, "users"):
		return audit.User
	case strings.HasPrefix(p, "tokens"):
		return audit.Token
	case strings.HasPrefix(p, "content"):
		return audit.Content
	case strings.HasPrefix(p, "webhooks"):
		return audit.Webhook
	}
	return ""
}

// objectName names the object a request changes, from the route's path values and the
// well-known ids of its JSON body: "fraud", "fraud/3" for a version, "fraud@production"
// for an alias, a run's or an experiment's id, an artifact's path.
func objectName(rt httpx.Route, r *http.Request, kind string) string {
	ids := bodyIDs(r)
	get := func(keys ...string) string {
		for _, k := range keys {
			if v := r.PathValue(k); v != "" {
				return v
			}
			if v := ids[k]; v != "" {
				return v
			}
		}
		return ""
	}
	join := func(name, sep, part string) string {
		if part == "" {
			return name
		}
		return name + sep + part
	}
	switch kind {
	case audit.Alias:
		return join(get("name"), "@", get("alias"))
	case audit.ModelVersion:
		return join(get("name"), "/", get("version"))
	case audit.Run:
		return get("run_id", "run_uuid")
	case audit.Experiment:
		return get("experiment_id", "name")
	case audit.LoggedModel:
		return get("model_id")
	case audit.Dataset: // an MLflow evaluation dataset by its id, mlship's datasets by name
		return get("dataset_id", "name")
	case audit.Trace: // a trace, or the experiment traces are sent to or deleted from
		if id := get("trace_id", "experiment_id"); id != "" {
			return id
		}
		return r.Header.Get("X-Mlflow-Experiment-Id")
	case audit.Artifact:
		if rest, ok := strings.CutPrefix(r.URL.Path, strings.TrimSuffix(rt.Path, "/")); ok {
			return strings.TrimPrefix(rest, "/")
		}
		return ""
	case audit.Token:
		return get("id")
	case audit.User:
		return get("name", "username")
	case audit.Permission:
		return join(get("kind", "resource_type"), ":", get("object", "resource_id"))
	}
	return get("name")
}

// maxPeek bounds how much of a body is read for its ids: they come first in the bodies
// the clients send, and the rest is not looked at.
const maxPeek = 64 << 10

// bodyIDs returns the top-level string and number fields of r's JSON body that name
// objects, leaving the body to be read again by the handler.
func bodyIDs(r *http.Request) map[string]string {
	if r.Body == nil || r.ContentLength == 0 {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxPeek))
	r.Body = peekedBody{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), Closer: r.Body}
	if err != nil {
		return nil
	}
	return topLevelIDs(buf)
}

type peekedBody struct {
	io.Reader
	io.Closer
}

var idFields = map[string]bool{"experiment_id": true, "run_id": true, "run_uuid": true, "name": true,
	"model_id": true, "version": true, "alias": true, "username": true, "kind": true, "object": true,
	"resource_type": true, "resource_id": true}

// topLevelIDs reads the string and number fields named in idFields at the top level of
// a JSON object. Every other value is skipped without being decoded (a log_batch's
// metrics cost a pass over their bytes, not a parse); it stops at the first thing it does
// not understand, such as the end of a body cut at maxPeek.
func topLevelIDs(buf []byte) map[string]string {
	s := scanner{b: buf}
	if !s.next('{') {
		return nil
	}
	ids := map[string]string{}
	for {
		key, ok := s.value()
		if !ok || len(key) < 2 || key[0] != '"' || !s.next(':') {
			return ids
		}
		v, ok := s.value()
		if !ok {
			return ids
		}
		if name := unquote(key); idFields[name] {
			switch {
			case v[0] == '"':
				ids[name] = unquote(v)
			case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
				ids[name] = string(v)
			}
		}
		if !s.next(',') {
			return ids
		}
	}
}

func unquote(raw []byte) string {
	if !bytes.ContainsRune(raw, '\\') {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	json.Unmarshal(raw, &s)
	return s
}

// scanner walks JSON values without decoding them.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// next consumes c, after white space.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// value consumes one value and returns its bytes; false when it does not end in buf.
func (s *scanner) value() ([]byte, bool) {
	s.space()
	start, depth := s.i, 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if !s.skipString() {
				return nil, false
			}
			if depth == 0 {
				return s.b[start:s.i], true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.b[start:s.i], s.i > start
			}
			if depth--; depth == 0 {
				s.i++
				return s.b[start:s.i], true
			}
		case ',', ':', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return s.b[start:s.i], s.i > start
			}
		}
		s.i++
	}
	return nil, false
}

// skipString consumes a string, its opening quote at s.i.
func (s *scanner) skipString() bool {
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// pruneAudit deletes audit records past --audit-retention, hourly.
func (s *Server) pruneAudit() jobs.Periodic {
	return jobs.Periodic{Name: "prune_audit", Interval: time.Hour, Run: func(ctx context.Context) error {
		n, err := s.audit.Prune(ctx)
		if n > 0 {
			s.logger.Info("audit: pruned records past the retention period", "records", n)
		}
		return err
	}}
}
