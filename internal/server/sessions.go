package server

import (
	"net/http"

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
	return sso.New(sso.Config{Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: o.ClientSecret,
		RedirectURL: o.RedirectURL, Scopes: o.Scopes, GroupsClaim: o.GroupsClaim, CreateTeams: o.CreateTeams,
		Session: auth.SessionPolicy{Lifetime: o.SessionLifetime, IdleTimeout: o.SessionIdleTimeout}}, s.auth, s.logger)
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
	httpx.WriteError(w, r, s.logger, err)
	return false
}

// checkCSRF refuses a state-changing request made under a browser session without the
// session's CSRF token; it reports whether the request goes on.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, id *auth.Identity) bool {
	if err := sso.CheckCSRF(r, id); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return false
	}
	return true
}
