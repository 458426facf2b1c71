package serving

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// minTokenLength is the shortest bearer token a token file may hold: a token is a
// generated secret, not a password someone types.
const minTokenLength = 16

// Tokens are the bearer tokens `mlship serve --token-file` accepts, kept hashed.
type Tokens struct {
	hashes [][sha256.Size]byte
}

// ReadTokenFile reads one token a line; blank lines and lines starting with # are
// skipped. A file with no token, or a token shorter than 16 characters or holding a
// space, is refused.
func ReadTokenFile(path string) (*Tokens, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t := &Tokens{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < minTokenLength || strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("%s line %d: a token is one word of at least %d characters (e.g. from `openssl rand -hex 32`)", path, n, minTokenLength)
		}
		t.hashes = append(t.hashes, sha256.Sum256([]byte(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(t.hashes) == 0 {
		return nil, fmt.Errorf("%s holds no token: write one a line", path)
	}
	return t, nil
}

// Has reports whether token is one of t's. Every token is compared, in constant time
// over hashes of a fixed length, so the time taken says nothing of how close a guess is.
func (t *Tokens) Has(token string) bool {
	got := sha256.Sum256([]byte(token))
	found := 0
	for _, h := range t.hashes {
		found |= subtle.ConstantTimeCompare(got[:], h[:])
	}
	return found == 1
}

// Guard is a RouterOptions.Wrap: a route that is not public for the request (an
// Inference route of a deployment that is not public, a listing, /metrics) needs
// Authorization: Bearer with one of t's tokens.
func (t *Tokens) Guard(logger *slog.Logger) func(httpx.Route, http.Handler) http.Handler {
	return func(rt httpx.Route, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if rt.Needs(r) == httpx.Public || strings.EqualFold(scheme, "bearer") && t.Has(strings.TrimSpace(cred)) {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="mlship serve"`)
			httpx.WriteError(w, r, logger, fault.New(fault.Unauthenticated,
				"this model needs a token: send Authorization: Bearer with one of the tokens in the server's --token-file"))
		})
	}
}
