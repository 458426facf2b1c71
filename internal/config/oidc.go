package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// OIDC is single sign-on for browsers through an OpenID Connect provider (with Auth):
// off while Issuer is empty.
type OIDC struct {
	Issuer      string
	ClientID    string
	RedirectURL string // this server's /auth/callback as the provider knows it
	GroupsClaim string // the ID token claim listing the user's groups
	Scopes      []string
	// CreateTeams makes a team of each group no team is named after; off, such groups
	// are ignored and only an administrator creates teams.
	CreateTeams        bool
	SessionLifetime    time.Duration
	SessionIdleTimeout time.Duration
	// ClientSecretFile holds the client's secret; else it comes from
	// MLSHIP_OIDC_CLIENT_SECRET (ClientSecret). Never a flag: flags show in ps.
	ClientSecretFile string
	ClientSecret     string
}

// DefaultOIDC returns single sign-on's defaults (off).
func DefaultOIDC() OIDC {
	return OIDC{GroupsClaim: "groups", Scopes: []string{"openid", "email", "profile", "groups"},
		SessionLifetime: 12 * time.Hour, SessionIdleTimeout: time.Hour}
}

// AddFlags adds the single sign-on flags to f, with o's values as defaults.
func (o *OIDC) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Issuer, "oidc-issuer", o.Issuer, "with --auth, sign browsers in through this OpenID Connect provider (its issuer URL, e.g. https://keycloak.example.com/realms/ml); the client's secret comes from MLSHIP_OIDC_CLIENT_SECRET or --oidc-client-secret-file (docs/auth.md)")
	f.StringVar(&o.ClientID, "oidc-client-id", o.ClientID, "the client id registered with the OpenID provider")
	f.StringVar(&o.ClientSecretFile, "oidc-client-secret-file", o.ClientSecretFile, "file holding the client's secret (instead of MLSHIP_OIDC_CLIENT_SECRET)")
	f.StringVar(&o.RedirectURL, "oidc-redirect-url", o.RedirectURL, "this server's callback as registered with the provider: https://HOST/auth/callback (https makes the cookies Secure and __Host-)")
	f.StringVar(&o.GroupsClaim, "oidc-groups-claim", o.GroupsClaim, "ID token claim with the user's groups; the user is made a member of exactly the teams named after them at each sign-in")
	f.StringSliceVar(&o.Scopes, "oidc-scopes", o.Scopes, "scopes asked of the provider")
	f.BoolVar(&o.CreateTeams, "oidc-create-teams", o.CreateTeams, "create a team for each group no team is named after (default: such groups are ignored)")
	f.DurationVar(&o.SessionLifetime, "session-lifetime", o.SessionLifetime, "a browser session ends this long after sign-in, however active")
	f.DurationVar(&o.SessionIdleTimeout, "session-idle-timeout", o.SessionIdleTimeout, "a browser session ends when unused this long")
}

// Resolve reads the client's secret and checks the settings; auth is whether
// identities are on.
func (o *OIDC) Resolve(auth bool) error {
	if o.Issuer == "" {
		return nil
	}
	if !auth {
		return fmt.Errorf("--oidc-issuer signs users in: it needs --auth")
	}
	if err := absoluteURL("--oidc-issuer", o.Issuer); err != nil {
		return err
	}
	if o.ClientID == "" {
		return fmt.Errorf("--oidc-issuer needs --oidc-client-id")
	}
	if err := absoluteURL("--oidc-redirect-url", o.RedirectURL); err != nil {
		return err
	}
	if u, _ := url.Parse(o.RedirectURL); !strings.HasSuffix(u.Path, "/auth/callback") {
		return fmt.Errorf("--oidc-redirect-url must end in /auth/callback, where the server answers the provider; got %q", o.RedirectURL)
	}
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		o.ClientSecret = strings.TrimSpace(string(b))
	}
	if o.ClientSecret == "" {
		return fmt.Errorf("--oidc-issuer needs the client's secret in MLSHIP_OIDC_CLIENT_SECRET or --oidc-client-secret-file")
	}
	if o.GroupsClaim == "" {
		return fmt.Errorf("--oidc-groups-claim must name a claim")
	}
	if o.SessionLifetime < time.Minute || o.SessionIdleTimeout < time.Minute {
		return fmt.Errorf("--session-lifetime and --session-idle-timeout must be at least 1m, got %s and %s", o.SessionLifetime, o.SessionIdleTimeout)
	}
	return nil
}

func absoluteURL(flag, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s must be an http(s) URL, got %q", flag, s)
	}
	return nil
}
