// Package client is the HTTP client of an mlship server's APIs, used by the command
// line. It speaks the same wire as MLflow's clients and turns error bodies back into
// fault errors, so that a command can tell a missing model from a broken server.
package client

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mlship/mlship/internal/fault"
)

// DefaultServer is the server a client talks to when none is named.
const DefaultServer = "http://127.0.0.1:5000"

// ServerFromEnv returns the server named by MLSHIP_SERVER, else MLFLOW_TRACKING_URI when
// it is an http(s) URI, else DefaultServer.
func ServerFromEnv() string {
	if s := os.Getenv("MLSHIP_SERVER"); s != "" {
		return s
	}
	if s := os.Getenv("MLFLOW_TRACKING_URI"); strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return s
	}
	return DefaultServer
}

// Client calls one server.
type Client struct {
	base string
	http *http.Client
}

// New returns a client of the server at base ("http://host:port"), signed in as
// Authorization(base) says.
func New(base string) (*Client, error) {
	return NewSignedIn(base, Authorization(base))
}

// NewSignedIn returns a client of the server at base that sends authorization ("" for
// none) as its Authorization header.
func NewSignedIn(base, authorization string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fault.Invalidf("--server %q must be an http:// or https:// URL", base)
	}
	return &Client{base: strings.TrimSuffix(base, "/"), http: &http.Client{Timeout: 5 * time.Minute,
		Transport: credentials{next: http.DefaultTransport, header: authorization}}}, nil
}

// Authorization is the Authorization header the command line sends to server: from the
// environment, MLSHIP_TOKEN, else MLflow's MLFLOW_TRACKING_TOKEN, else
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD; else the token `mlship login`
// kept for server; "" when there is none.
func Authorization(server string) string {
	if t := cmp.Or(os.Getenv("MLSHIP_TOKEN"), os.Getenv("MLFLOW_TRACKING_TOKEN")); t != "" {
		return "Bearer " + t
	}
	if u := os.Getenv("MLFLOW_TRACKING_USERNAME"); u != "" {
		return BasicAuthorization(u, os.Getenv("MLFLOW_TRACKING_PASSWORD"))
	}
	// An unreadable credentials file signs nobody in: the server's refusal says how to.
	if c, err := StoredCredential(server); err == nil && c != nil {
		return "Bearer " + c.Token
	}
	return ""
}

// BasicAuthorization is the HTTP Basic Authorization header of a user and password.
func BasicAuthorization(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// credentials adds the Authorization header to every request that has none.
type credentials struct {
	next   http.RoundTripper
	header string
}

func (c credentials) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.header != "" && r.Header.Get("Authorization") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", c.header)
	}
	return c.next.RoundTrip(r)
}

// Base is the server's URL.
func (c *Client) Base() string { return c.base }

// SignedIn reports whether the client sends credentials.
func (c *Client) SignedIn() bool {
	cr, ok := c.http.Transport.(credentials)
	return ok && cr.header != ""
}

// Get calls a GET endpoint with query parameters and decodes the answer into out.
func (c *Client) Get(ctx context.Context, path string, query url.Values, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	return c.do(req, out)
}

// Send calls an endpoint with a JSON body and decodes the answer into out.
func (c *Client) Send(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req, out)
}

// Download streams a GET endpoint's body into w.
func (c *Client) Download(ctx context.Context, path string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, decodeError(resp)
	}
	return io.Copy(w, resp.Body)
}

// Upload streams body, of size bytes (-1 when unknown), to an endpoint and decodes the
// JSON answer into out. Only ctx bounds it: a large file takes the time it takes.
func (c *Client) Upload(ctx context.Context, method, path string, query url.Values, body io.Reader, size int64, out any) error {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	return c.doWith(&http.Client{Transport: c.http.Transport}, req, out)
}

func (c *Client) do(req *http.Request, out any) error {
	return c.doWith(c.http, req, out)
}

func (c *Client) doWith(hc *http.Client, req *http.Request, out any) error {
	resp, err := hc.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s answered something that is not JSON: %w", c.base, err)
	}
	return nil
}

func (c *Client) unreachable(err error) error {
	return fault.Wrap(fault.Unavailable, err, "cannot reach the mlship server at %s (start one with 'mlship server', or name another with --server or MLSHIP_SERVER)", c.base)
}

// codeKinds maps MLflow error codes back to fault kinds.
var codeKinds = map[string]fault.Kind{
	"INVALID_PARAMETER_VALUE": fault.Invalid, "BAD_REQUEST": fault.Invalid,
	"RESOURCE_DOES_NOT_EXIST": fault.NotFound, "ENDPOINT_NOT_FOUND": fault.NotImplemented,
	"RESOURCE_ALREADY_EXISTS": fault.AlreadyExists, "RESOURCE_CONFLICT": fault.Conflict,
	"REQUEST_LIMIT_EXCEEDED": fault.TooLarge, "UNAUTHENTICATED": fault.Unauthenticated,
	"PERMISSION_DENIED": fault.PermissionDenied, "TEMPORARILY_UNAVAILABLE": fault.Unavailable,
	"NOT_IMPLEMENTED": fault.NotImplemented,
}

func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &e) != nil || e.ErrorCode == "" {
		return fault.New(fault.Internal, "server answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	kind, ok := codeKinds[e.ErrorCode]
	if !ok {
		kind = fault.Internal
	}
	return fault.New(kind, "%s", e.Message)
}
