package sso

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mlship/mlship/internal/fault"
)

// loginState is what a sign-in remembers between /auth/login and /auth/callback.
type loginState struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"` // PKCE
	Next     string    `json:"r"`
	Expires  time.Time `json:"e"`
}

func newLoginState(next string, expires time.Time) (loginState, error) {
	state, err := random()
	if err != nil {
		return loginState{}, err
	}
	nonce, err := random()
	if err != nil {
		return loginState{}, err
	}
	return loginState{State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(), Next: next, Expires: expires}, nil
}

func random() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// sealer encrypts and authenticates the login state cookie (AES-256-GCM), so that the
// browser can neither read the PKCE verifier nor change where it returns to.
type sealer struct{ aead cipher.AEAD }

// newSealer derives the key from the client's secret, so that every replica of the
// server opens the cookies of the others; without a secret, the key is random.
func newSealer(clientSecret string) (sealer, error) {
	key := make([]byte, 32)
	if clientSecret != "" {
		m := hmac.New(sha256.New, []byte(clientSecret))
		m.Write([]byte("mlship sign-in state cookie"))
		key = m.Sum(nil)
	} else if _, err := rand.Read(key); err != nil {
		return sealer{}, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return sealer{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return sealer{}, err
	}
	return sealer{aead: aead}, nil
}

func (s sealer) seal(v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, nil)), nil
}

var errBadSeal = errors.New("sealed value is not valid")

func (s sealer) open(sealed string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return errBadSeal
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], nil)
	if err != nil {
		return errBadSeal
	}
	return json.Unmarshal(plain, v)
}

// localPath checks where a sign-in returns to: a path on this server ("/" when none is
// given), never another site, so that a link to /auth/login cannot send a user who
// signs in elsewhere.
func localPath(next string) (string, error) {
	if next == "" {
		return "/", nil
	}
	bad := fault.Invalidf("next must be a path on this server, such as /ui/models; got %q", clip(next))
	u, err := url.Parse(next)
	switch {
	case err != nil, u.Scheme != "", u.Host != "", u.User != nil, u.Opaque != "":
		return "", bad
	case !strings.HasPrefix(next, "/"), strings.HasPrefix(next, "//"), strings.ContainsAny(next, "\\\x00\r\n\t"):
		// Browsers read "//host" and "/\host" as another site.
		return "", bad
	}
	return next, nil
}

// identityClaims are what a sign-in reads of the ID token.
type identityClaims struct {
	Issuer, Subject string
	Username, Email string
	Groups          []string
}

// name is what the new user is called: the provider's user name, else its email.
func (c *identityClaims) name() string {
	if c.Username != "" {
		return c.Username
	}
	return c.Email
}

func readClaims(idt *oidc.IDToken, groupsClaim string) (*identityClaims, error) {
	var all map[string]any
	if err := idt.Claims(&all); err != nil {
		return nil, fault.Wrap(fault.Unauthenticated, err, "the ID token's claims cannot be read")
	}
	c := &identityClaims{Issuer: idt.Issuer, Subject: idt.Subject}
	c.Username, _ = all["preferred_username"].(string)
	c.Email, _ = all["email"].(string)
	groups, err := groupList(all[groupsClaim])
	if err != nil {
		return nil, fault.Wrap(fault.Unauthenticated, err, "the ID token's %q claim cannot be read", groupsClaim)
	}
	c.Groups = groups
	return c, nil
}

// groupList reads a groups claim: a list of names, or one name; absent is none.
func groupList(v any) ([]string, error) {
	switch g := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{g}, nil
	case []any:
		out := make([]string, 0, len(g))
		for _, e := range g {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("a group is %T, not a string", e)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("the claim is %T, not a list of names", v)
}
