package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOIDCResolve(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	valid := func() OIDC {
		o := DefaultOIDC()
		o.Issuer, o.ClientID, o.ClientSecret = "https://idp.example/realms/ml", "mlship", "s3cret"
		o.RedirectURL = "https://mlship.example/auth/callback"
		return o
	}
	for _, tc := range []struct {
		name   string
		change func(*OIDC)
		auth   bool
		err    string
	}{
		{"valid", func(*OIDC) {}, true, ""},
		{"off", func(o *OIDC) { *o = DefaultOIDC() }, false, ""},
		{"without --auth", func(*OIDC) {}, false, "needs --auth"},
		{"issuer not a URL", func(o *OIDC) { o.Issuer = "idp.example" }, true, "--oidc-issuer must be an http(s) URL"},
		{"no client id", func(o *OIDC) { o.ClientID = "" }, true, "--oidc-client-id"},
		{"no redirect", func(o *OIDC) { o.RedirectURL = "" }, true, "--oidc-redirect-url must be"},
		{"redirect elsewhere", func(o *OIDC) { o.RedirectURL = "https://mlship.example/callback" }, true, "end in /auth/callback"},
		{"no secret", func(o *OIDC) { o.ClientSecret = "" }, true, "MLSHIP_OIDC_CLIENT_SECRET"},
		{"secret file", func(o *OIDC) { o.ClientSecret, o.ClientSecretFile = "", secretFile }, true, ""},
		{"missing secret file", func(o *OIDC) { o.ClientSecretFile = secretFile + ".none" }, true, "--oidc-client-secret-file"},
		{"short session", func(o *OIDC) { o.SessionIdleTimeout = time.Second }, true, "at least 1m"},
		{"no groups claim", func(o *OIDC) { o.GroupsClaim = "" }, true, "--oidc-groups-claim"},
	} {
		o := valid()
		tc.change(&o)
		err := o.Resolve(tc.auth)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
		if tc.name == "secret file" && o.ClientSecret != "from-file" {
			t.Errorf("secret file: secret %q", o.ClientSecret)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
}
