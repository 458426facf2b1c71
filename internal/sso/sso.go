// Package sso signs browsers in through an OpenID Connect provider: /auth/login sends
// the browser to the provider (authorization code with PKCE, a state and a nonce kept
// in a short-lived sealed cookie), /auth/callback verifies what comes back, links the
// provider's user to a user of mlship, makes it a member of the teams its groups name,
// and opens a session held in a cookie; /auth/logout ends it. Sessions themselves are
// identities' business (auth); this package only speaks the protocol and sets cookies.
package sso

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// Config is single sign-on's settings.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string // this server's /auth/callback
	Scopes       []string
	GroupsClaim  string
	CreateTeams  bool // a group no team is named after becomes a team
	Session      auth.SessionPolicy
	// HTTPClient talks to the provider (default: one with a 10s timeout).
	HTTPClient *http.Client
	// SignedIn, if set, is told of every answer of /auth/callback: the user signed in
	// ("" when refused) and the status answered (the audit trail).
	SignedIn func(r *http.Request, user string, status int)
}

// CSRFHeader is the header a page sends its session's CSRF token in.
const CSRFHeader = "X-CSRF-Token"

// loginTTL is how long a browser has to come back from the provider.
const loginTTL = 10 * time.Minute

// Service answers the sign-in routes.
type Service struct {
	cfg    Config
	auth   *auth.Service
	logger *slog.Logger
	secure bool // served over https: cookies are Secure and __Host-
	seal   sealer

	mu       sync.Mutex
	provider *oidc.Provider // discovered on the first sign-in
}

// New returns the service. The provider is asked for its configuration on the first
// sign-in, not here: a provider that is down does not keep the server from starting.
func New(cfg Config, identities *auth.Service, logger *slog.Logger) (*Service, error) {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	seal, err := newSealer(cfg.ClientSecret)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, auth: identities, logger: logger, seal: seal,
		secure: strings.HasPrefix(strings.ToLower(cfg.RedirectURL), "https://")}, nil
}

// Register adds the sign-in routes: /auth/login and /auth/callback are public (they are
// how one signs in); /auth/logout needs a session.
func (s *Service) Register(rt *httpx.Router) {
	rt.Handle(httpx.Route{Method: "GET", Path: "/auth/login", Access: httpx.Public, Handler: http.HandlerFunc(s.login)})
	rt.Handle(httpx.Route{Method: "GET", Path: "/auth/callback", Access: httpx.Public, Handler: http.HandlerFunc(s.callback)})
	rt.Handle(httpx.Route{Method: "POST", Path: "/auth/logout", Body: httpx.JSON, Access: httpx.Signed, Handler: http.HandlerFunc(s.logout)})
}

// SessionCookie returns the name of the session cookie.
func (s *Service) SessionCookie() string { return s.cookieName("mlship_session") }

func (s *Service) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// SessionSecret returns the session secret r carries in its cookie, if any.
func (s *Service) SessionSecret(r *http.Request) (string, bool) {
	c, err := r.Cookie(s.SessionCookie())
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// ClearSession tells the browser to drop its session cookie (after the session ended).
func (s *Service) ClearSession(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(s.SessionCookie(), "", -1))
}

func (s *Service) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: s.secure, SameSite: http.SameSiteLaxMode}
}

// CheckCSRF refuses a request that changes state under a browser session without the
// session's token in X-CSRF-Token. Requests signed with a password or a token need none:
// a browser never adds those to a request another site makes it send.
func CheckCSRF(r *http.Request, id *auth.Identity) error {
	if id == nil || id.SessionID == 0 || !httpx.StateChanging(r.Method) {
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.CSRFToken)) != 1 {
		return fault.New(fault.PermissionDenied, "a request that changes something under a browser session needs the session's CSRF token in the %s header (GET /api/v1/whoami gives it as csrf_token)", CSRFHeader)
	}
	return nil
}

// Warm asks the provider for its configuration now, so that a wrong --oidc-issuer or an
// unreachable provider shows in the log at start rather than at the first sign-in.
func (s *Service) Warm() {
	if _, err := s.discover(); err != nil {
		s.logger.Warn("single sign-on: the identity provider does not answer yet; sign-ins will ask it again",
			"issuer", s.cfg.Issuer, "err", errors.Unwrap(err))
		return
	}
	s.logger.Info("single sign-on", "issuer", s.cfg.Issuer, "redirect_url", s.cfg.RedirectURL)
}

// discover returns the provider, asking for its configuration the first time.
func (s *Service) discover() (*oidc.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider != nil {
		return s.provider, nil
	}
	// The provider's key set fetches keys with this context for as long as it lives:
	// not a request's, which ends with the request.
	p, err := oidc.NewProvider(s.clientContext(context.Background()), s.cfg.Issuer)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "the identity provider %s cannot be reached or answers no OpenID configuration: try again later", s.cfg.Issuer)
	}
	s.provider = p
	return p, nil
}

func (s *Service) clientContext(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, s.cfg.HTTPClient), s.cfg.HTTPClient)
}

func (s *Service) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: s.cfg.ClientID, ClientSecret: s.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.cfg.RedirectURL, Scopes: s.cfg.Scopes}
}

// login sends the browser to the provider, remembering the state, nonce, PKCE verifier
// and where to return in a sealed cookie.
func (s *Service) login(w http.ResponseWriter, r *http.Request) {
	next, err := localPath(r.URL.Query().Get("next"))
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	p, err := s.discover()
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	st, err := newLoginState(next, time.Now().Add(loginTTL))
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	sealed, err := s.seal.seal(st)
	if err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	http.SetCookie(w, s.cookie(s.cookieName("mlship_login"), sealed, int(loginTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	target := s.oauth(p).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	http.Redirect(w, r, target, http.StatusFound)
}

// callback finishes a sign-in: the state must be the one login sealed in its cookie,
// the code is exchanged with the PKCE verifier, and the ID token must be the provider's,
// for this client, unexpired, and carry login's nonce.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookie(s.cookieName("mlship_login"), "", -1)) // one use only
	w.Header().Set("Cache-Control", "no-store")
	user, next, err := s.finish(w, r)
	status := http.StatusSeeOther
	if err != nil {
		p := httpx.Describe(w, r, s.logger, err)
		status = p.Status
		httpx.WriteJSON(w, status, map[string]string{"error_code": p.Code, "message": p.Message})
	} else {
		http.Redirect(w, r, next, status)
	}
	if s.cfg.SignedIn != nil {
		s.cfg.SignedIn(r, user, status)
	}
}

// finish checks the provider's answer and signs the user in; it returns the user's
// name and where the browser goes next.
func (s *Service) finish(w http.ResponseWriter, r *http.Request) (string, string, error) {
	q := r.URL.Query()
	st, err := s.loginState(r)
	if err != nil {
		return "", "", err
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return "", "", fault.Invalidf("the sign-in's state does not match the one it started with (a stale or forged link): start again at /auth/login")
	}
	if e := q.Get("error"); e != "" {
		return "", "", fault.New(fault.Unauthenticated, "the identity provider refused the sign-in: %s", clip(e+": "+q.Get("error_description")))
	}
	if q.Get("code") == "" {
		return "", "", fault.Invalidf("the identity provider's answer has no code: start again at /auth/login")
	}
	claims, err := s.verify(r.Context(), q.Get("code"), st)
	if err != nil {
		return "", "", err
	}
	user, err := s.signIn(w, r, claims)
	if err != nil {
		return "", "", err
	}
	return user, st.Next, nil
}

// loginState returns the state login sealed in its cookie.
func (s *Service) loginState(r *http.Request) (loginState, error) {
	var st loginState
	c, err := r.Cookie(s.cookieName("mlship_login"))
	if err != nil {
		return st, fault.Invalidf("the sign-in has no state cookie (it lasts %s, and the browser must accept cookies): start again at /auth/login", loginTTL)
	}
	if err := s.seal.open(c.Value, &st); err != nil || time.Now().After(st.Expires) {
		return st, fault.Invalidf("the sign-in's state cookie is not valid or has expired: start again at /auth/login")
	}
	return st, nil
}

// verify exchanges the code and returns the verified ID token's claims.
func (s *Service) verify(ctx context.Context, code string, st loginState) (*identityClaims, error) {
	p, err := s.discover()
	if err != nil {
		return nil, err
	}
	ctx = s.clientContext(ctx)
	tok, err := s.oauth(p).Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return nil, fault.Wrap(fault.Unauthenticated, err, "the identity provider did not accept the sign-in's code: start again at /auth/login")
		}
		return nil, fault.Wrap(fault.Unavailable, err, "the identity provider %s cannot be reached: try again later", s.cfg.Issuer)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fault.New(fault.Unauthenticated, "the identity provider's answer has no ID token: is the openid scope among --oidc-scopes?")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.cfg.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, fault.Wrap(fault.Unauthenticated, err, "the identity provider's ID token is not valid")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return nil, fault.New(fault.Unauthenticated, "the ID token's nonce is not this sign-in's: start again at /auth/login")
	}
	return readClaims(idt, s.cfg.GroupsClaim)
}

// signIn links the provider's user to a user of mlship, syncs its teams and opens its
// session.
func (s *Service) signIn(w http.ResponseWriter, r *http.Request, c *identityClaims) (string, error) {
	ctx := r.Context()
	u, created, err := s.auth.ExternalUser(ctx, c.Issuer, c.Subject, c.name())
	if err != nil {
		return "", err
	}
	if err := s.auth.SyncTeams(ctx, u.ID, c.Groups, s.cfg.CreateTeams); err != nil {
		return "", err
	}
	secret, err := s.auth.StartSession(ctx, u.ID, s.cfg.Session)
	if err != nil {
		return "", err
	}
	http.SetCookie(w, s.cookie(s.SessionCookie(), secret, int(s.cfg.Session.Lifetime.Seconds())))
	s.logger.Info("signed in through the identity provider", "user", u.Name, "created", created, "groups", c.Groups)
	return u.Name, nil
}

// logout ends the session the request came with.
func (s *Service) logout(w http.ResponseWriter, r *http.Request) {
	id := auth.From(r.Context())
	if id == nil || id.SessionID == 0 {
		httpx.WriteError(w, r, s.logger, fault.Invalidf("this request has no browser session to end: /auth/logout ends the session of its cookie (revoke a token with mlship tokens revoke)"))
		return
	}
	if err := s.auth.EndSession(r.Context(), id.SessionID); err != nil {
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.ClearSession(w)
	w.WriteHeader(http.StatusNoContent)
}

func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
