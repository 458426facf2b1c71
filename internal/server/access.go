package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// scopesFor maps the access a route declares to the scope a caller needs.
var scopesFor = map[httpx.Access]auth.Scopes{
	httpx.Read:      auth.Read,
	httpx.Inference: auth.Read, // when the deployment is not public
	httpx.Write:     auth.Write,
	httpx.Deploy:    auth.Deploy,
	httpx.Admin:     auth.Admin,
}

// checkAccess wraps a route with identities on: the request's credentials (HTTP Basic,
// or a Bearer token) become an identity in its context, and the route runs only if
// that identity has the scope the route declares. Public routes run for anyone; a
// request with bad credentials is refused even there, so that a client learns its
// credentials are wrong at once.
func (s *Server) checkAccess(rt httpx.Route, h http.Handler) http.Handler {
	need := scopesFor[rt.Access]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authenticate(r)
		if auth.IsSessionEnded(err) {
			if !s.sessionEnded(w, r, rt, err) {
				return
			}
			id, err = nil, nil
		}
		if err != nil {
			if fault.KindOf(err) == fault.Unauthenticated {
				challenge(w, r)
			}
			switch fault.KindOf(err) {
			case fault.Unauthenticated:
				s.refusedAccess(rt, r, http.StatusUnauthorized)
			case fault.Exhausted:
				s.refusedAccess(rt, r, http.StatusTooManyRequests)
			}
			httpx.WriteError(w, r, s.logger, err)
			return
		}
		access := rt.Needs(r)
		switch {
		case access == httpx.Public:
		case id == nil:
			challenge(w, r)
			s.refusedAccess(rt, r, http.StatusUnauthorized)
			httpx.WriteError(w, r, s.logger, fault.New(fault.Unauthenticated,
				"sign in: send a user's password (HTTP Basic) or an API token (Authorization: Bearer); the MLflow client reads MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN"))
			return
		case access == httpx.Signed:
		case !id.Scopes.Has(need):
			s.refusedAccess(rt, r.WithContext(auth.WithIdentity(r.Context(), id)), http.StatusForbidden)
			httpx.WriteError(w, r, s.logger, fault.New(fault.PermissionDenied,
				"%s %s needs the %s scope; %s has %s", r.Method, r.URL.Path, need, who(id), id.Scopes))
			return
		}
		if !s.checkCSRF(w, r, rt, id) {
			return
		}
		if id != nil {
			r = r.WithContext(auth.WithIdentity(r.Context(), id))
		}
		h.ServeHTTP(w, r)
	})
}

func who(id *auth.Identity) string {
	if id.TokenID != 0 {
		return "this token of " + id.Name
	}
	return id.Name
}

// challenge asks for credentials, as HTTP Basic (what the MLflow client answers). The
// web UI's requests (X-Requested-With) get none: a browser answers a Basic challenge with
// its own password dialog, where the UI shows its sign-in form.
func challenge(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Requested-With") != "" {
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="mlship", charset="UTF-8"`)
}

// authenticate returns the identity r's credentials stand for: nil for none. A token
// may also come as the password of HTTP Basic (for clients that only speak Basic).
func (s *Server) authenticate(r *http.Request) (*auth.Identity, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return s.sessionIdentity(r) // a browser's session cookie, after single sign-on
	}
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch strings.ToLower(scheme) {
	case "bearer":
		return s.auth.Verify(r.Context(), cred)
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, fault.New(fault.Unauthenticated, "invalid credentials")
		}
		name, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return nil, fault.New(fault.Unauthenticated, "invalid credentials")
		}
		if strings.HasPrefix(password, auth.TokenPrefix) {
			return s.auth.Verify(r.Context(), password)
		}
		return s.auth.SignIn(r.Context(), name, password, client)
	}
	return nil, fault.New(fault.Unauthenticated, "unsupported Authorization scheme %q: use Basic or Bearer", scheme)
}

// bootstrap creates the administrator on the first start with identities on, with the
// password the operator gave in MLSHIP_ADMIN_PASSWORD. There is no default password.
func (s *Server) bootstrap(ctx context.Context) error {
	n, err := s.auth.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	if s.cfg.AdminPassword == "" {
		s.logger.Warn("identities are on and there is no user yet: nobody can sign in; set MLSHIP_ADMIN_PASSWORD and restart " +
			"(the user admin is created with it), or stop the server and run `mlship users bootstrap`")
		return nil
	}
	created, err := s.auth.Bootstrap(ctx, s.cfg.AdminPassword)
	if err != nil {
		return fmt.Errorf("create the administrator from MLSHIP_ADMIN_PASSWORD: %w", err)
	}
	if created {
		s.logger.Info("created the administrator admin, with the password in MLSHIP_ADMIN_PASSWORD")
	}
	return nil
}
