package server

import (
	"net/http"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/sso"
)

// newSSO builds single sign-on when an OpenID provider is configured; nil otherwise.
func (s *Server) newSSO() (*sso.Service, error) {
	o := s.cfg.OIDC
	if !s.cfg.Auth || o.Issuer == "" {
		return nil, nil
	}
	svc, err := sso.New(sso.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		RedirectURL: o.RedirectURL, Scopes: o.Scopes, GroupsClaim: o.GroupsClaim, CreateTeams: o.CreateTeams,
		Session:  auth.SessionPolicy{Lifetime: o.SessionLifetime, IdleTimeout: o.SessionIdleTimeout},
		SignedIn: s.recordSignIn}, s.auth, s.logger)
	if err != nil {
		return nil, err
	}
	go svc.Warm()
	return svc, nil
}

// recordSignIn puts a single sign-on's outcome in the audit trail: a sign-in may create
// the user and changes its teams, and a refused one is worth knowing of (at most once a
// minute per address).
func (s *Server) recordSignIn(r *http.Request, user string, status int) {
	e := audit.Entry{Actor: user, Address: clientAddress(r), Route: "GET /auth/callback", Action: "sign in",
		ObjectKind: audit.User, Object: user, Outcome: audit.Succeeded, Status: status, RequestID: httpx.RequestID(r.Context())}
	switch {
	case status >= 500:
		e.Outcome = audit.Failed
	case status >= 400:
		e.Outcome = audit.Denied
	}
	if err := s.audit.Record(r.Context(), e); err != nil {
		s.logger.Warn("audit: record a sign-in", "err", err)
	}
}

// sessionIdentity returns the identity of r's session cookie: nil without one, or
// without single sign-on.
func (s *Server) sessionIdentity(r *http.Request) (*auth.Identity, error) {
	if s.sso == nil {
		return nil, nil
	}
	secret, ok := s.sso.SessionSecret(r)
	if !ok {
		return nil, nil
	}
	return s.auth.VerifySession(r.Context(), secret)
}

// sessionEnded answers a request whose session cookie is refused (forged, expired,
// ended): the browser is told to drop the cookie, and a public route goes on as for
// anyone, so that /auth/login works with a stale cookie; it reports whether the request
// goes on. Any other route is refused 401 with no Basic challenge, which would make the
// browser ask for a password over the page.
func (s *Server) sessionEnded(w http.ResponseWriter, r *http.Request, rt httpx.Route, err error) bool {
	s.sso.ClearSession(w)
	if rt.Access == httpx.Public {
		return true
	}
	s.refusedAccess(rt, r, http.StatusUnauthorized)
	httpx.WriteError(w, r, s.logger, err)
	return false
}

// checkCSRF refuses a state-changing request made under a browser session without the
// session's CSRF token; it reports whether the request goes on.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, rt httpx.Route, id *auth.Identity) bool {
	if err := sso.CheckCSRF(r, id); err != nil {
		s.refusedAccess(rt, r.WithContext(auth.WithIdentity(r.Context(), id)), http.StatusForbidden)
		httpx.WriteError(w, r, s.logger, err)
		return false
	}
	return true
}
