package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// metricsPath is the Prometheus endpoint, which a scrape token may guard.
const metricsPath = "/metrics"

// minScrapeToken is the shortest scrape token accepted: a token is a secret, not a
// password someone types.
const minScrapeToken = 16

// readScrapeToken reads the scrape token from path: the file's content, trimmed of
// white space around it, as Prometheus's credentials_file sends it.
func readScrapeToken(path string) ([sha256.Size]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("--metrics-token-file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if len(token) < minScrapeToken || strings.ContainsAny(token, " \t\r\n") {
		return [sha256.Size]byte{}, fmt.Errorf("--metrics-token-file %s: the token must be one line of at least %d characters without spaces (e.g. from `openssl rand -hex 32`)", path, minScrapeToken)
	}
	return sha256.Sum256([]byte(token)), nil
}

// checkScrape guards /metrics with the scrape token: a request bearing it is served;
// any other needs an administrator's credentials (with --auth), so that a token
// minted for reading tracking data does not also read the server's metrics.
func (s *Server) checkScrape(rt httpx.Route, h http.Handler) http.Handler {
	admin := rt
	admin.Access = httpx.Admin
	var orAdmin http.Handler
	if s.cfg.Auth {
		orAdmin = s.checkAccess(admin, h)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if strings.EqualFold(scheme, "bearer") && s.isScrapeToken(strings.TrimSpace(cred)) {
			h.ServeHTTP(w, r)
			return
		}
		cred = strings.TrimSpace(cred)
		scrapeLike := strings.EqualFold(scheme, "bearer") && !strings.HasPrefix(cred, auth.TokenPrefix)
		if orAdmin != nil && cred != "" && !scrapeLike {
			orAdmin.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="mlship metrics"`)
		s.refusedAccess(rt, r, http.StatusUnauthorized)
		httpx.WriteError(w, r, s.logger, fault.New(fault.Unauthenticated,
			"/metrics needs the scrape token (Authorization: Bearer, from the file given to --metrics-token-file) or an administrator's credentials"))
	})
}

// isScrapeToken compares in constant time: hashing first makes the comparison's
// length fixed, whatever the length of what was sent.
func (s *Server) isScrapeToken(cred string) bool {
	got := sha256.Sum256([]byte(cred))
	return subtle.ConstantTimeCompare(got[:], s.scrapeToken[:]) == 1
}
