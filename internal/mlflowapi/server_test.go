package mlflowapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/server"
)

const (
	api       = "/api/2.0/mlflow/"
	ajax      = "/ajax-api/2.0/mlflow/"
	artifacts = "/api/2.0/mlflow-artifacts/"
)

// testServer is a whole mlship server behind httptest. Its data directory is base/data,
// so that base holds files outside the server's reach.
type testServer struct {
	*httptest.Server
	base      string
	artifacts string // the artifacts destination
}

// newServer starts a server on the default configuration with a 1 MiB body limit;
// edit, if given, changes the configuration first.
func newServer(t testing.TB, edit func(*config.Server)) *testServer {
	t.Helper()
	base := t.TempDir()
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(base, "data")
	cfg.MaxRequestBody = 1 << 20
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, base: base, artifacts: cfg.ArtifactsDestination}
}

// reply is a response with its body read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as a JSON object.
func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request. A body that is a string or []byte is sent as is; anything else
// is encoded as JSON. POST and PUT requests get Content-Type: application/json unless
// hdr sets one ("" to send none).
func (s *testServer) do(t testing.TB, method, target string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost || method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return s.send(t, req)
}

// raw sends a request whose target goes on the wire exactly as given, so that Go neither
// cleans nor re-escapes it.
func (s *testServer) raw(t testing.TB, method, target string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque, req.URL.RawQuery, _ = strings.Cut(target, "?")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return s.send(t, req)
}

func (s *testServer) send(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// ok fails unless r is a 200 with a JSON object, which it returns.
func (r reply) ok(t testing.TB) map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.status, r.body)
	}
	return r.json(t)
}

// wantError fails unless r is MLflow's error answer with the status and code.
func (r reply) wantError(t testing.TB, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q", ct)
	}
	m := r.json(t)
	msg, _ := m["message"].(string)
	if m["error_code"] != code || msg == "" || len(m) != 2 {
		t.Errorf("error body = %s, want {error_code: %s, message}", r.body, code)
	}
}

// createRun creates an experiment named name and a run in it, and returns their ids.
func (s *testServer) createRun(t testing.TB, name string) (expID, runID string) {
	t.Helper()
	expID = s.do(t, "POST", api+"experiments/create", map[string]any{"name": name}).ok(t)["experiment_id"].(string)
	run := s.do(t, "POST", api+"runs/create", map[string]any{"experiment_id": expID}).ok(t)["run"]
	return expID, run.(map[string]any)["info"].(map[string]any)["run_id"].(string)
}

// dig walks a decoded JSON value by object keys and array indexes.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}
