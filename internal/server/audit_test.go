package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/httpx"
)

func auditServer(t *testing.T, withAuth bool) *Server {
	t.Helper()
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	if withAuth {
		cfg.Auth, cfg.AdminPassword = true, "audit-admin-password"
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// send makes one request from addr through the whole server.
func send(t *testing.T, srv *Server, addr, method, target, body string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Host, r.RemoteAddr = testHost, addr+":40000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, r)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

func trail(t *testing.T, srv *Server) []audit.Entry {
	t.Helper()
	p, err := srv.audit.Query(context.Background(), audit.Filter{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return p.Entries
}

// TestEveryAuditedRouteNamesAKind holds every state-changing route to a kind of object,
// so a new route cannot be recorded as changing nothing in particular.
func TestEveryAuditedRouteNamesAKind(t *testing.T) {
	srv := auditServer(t, false)
	_, router, err := srv.routes(httpx.RouterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range router.Routes() {
		if auditable(rt) && objectKind(rt.Path) == "" {
			t.Errorf("%s %s changes state and names no kind of object", rt.Method, rt.Path)
		}
	}
}

func TestAuditWithoutAuth(t *testing.T) {
	srv := auditServer(t, false)
	const create = "/api/2.0/mlflow/experiments/create"
	code, out := send(t, srv, "10.1.2.3", "POST", create, `{"name": "audited"}`, nil)
	if code != 200 {
		t.Fatalf("create: %d %v", code, out)
	}
	id, _ := out["experiment_id"].(string)
	if code, _ := send(t, srv, "10.1.2.3", "POST", create, `{"name": "audited"}`, nil); code != 400 {
		t.Fatalf("create twice: %d", code)
	}
	if code, _ := send(t, srv, "10.1.2.4", "POST", "/api/2.0/mlflow/experiments/delete", `{"experiment_id": "`+id+`"}`, nil); code != 200 {
		t.Fatalf("delete: %d", code)
	}
	// Reads are not recorded, POST searches included.
	send(t, srv, "10.1.2.3", "POST", "/api/2.0/mlflow/experiments/search", `{"max_results": 10}`, nil)
	send(t, srv, "10.1.2.3", "GET", "/api/2.0/mlflow/experiments/get?experiment_id="+id, "", nil)

	es := trail(t, srv)
	want := []struct{ action, object, outcome, address string }{
		{"POST experiments/delete", id, audit.Succeeded, "10.1.2.4"},
		{"POST experiments/create", "audited", audit.Failed, "10.1.2.3"},
		{"POST experiments/create", "audited", audit.Succeeded, "10.1.2.3"},
	}
	if len(es) != len(want) {
		t.Fatalf("trail = %+v; want %d records", es, len(want))
	}
	for i, w := range want {
		e := es[i]
		if e.Action != w.action || e.Object != w.object || e.Outcome != w.outcome || e.Address != w.address ||
			e.Actor != "local" || e.ObjectKind != audit.Experiment {
			t.Errorf("record %d = %+v; want %+v", i, e, w)
		}
	}
	if es[1].Status != 400 {
		t.Errorf("failed create recorded with status %d", es[1].Status)
	}
}

func TestAuditWithAuth(t *testing.T) {
	srv := auditServer(t, true)
	ctx := context.Background()
	admin, err := srv.auth.SignIn(ctx, "admin", "audit-admin-password", "test")
	if err != nil {
		t.Fatal(err)
	}
	reader, _, err := srv.auth.CreateToken(ctx, admin, auth.NewToken{Name: "ro", Scopes: "read"})
	if err != nil {
		t.Fatal(err)
	}
	const create = "/api/2.0/mlflow/experiments/create"
	adminAuth := map[string]string{"Authorization": "Basic " + basic("admin", "audit-admin-password")}
	if code, out := send(t, srv, "10.0.0.1", "POST", create, `{"name": "e"}`, adminAuth); code != 200 {
		t.Fatalf("create as admin: %d %v", code, out)
	}
	// A flood of wrong passwords leaves one record a minute.
	for range 5 {
		if code, _ := send(t, srv, "10.0.0.66", "POST", create, `{"name": "x"}`,
			map[string]string{"Authorization": "Basic " + basic("admin", "wrong-password")}); code != 401 {
			t.Fatalf("wrong password: %d", code)
		}
	}
	if code, _ := send(t, srv, "10.0.0.2", "POST", create, `{"name": "y"}`,
		map[string]string{"Authorization": "Bearer " + reader}); code != 403 {
		t.Fatalf("read token writing: %d", code)
	}
	if code, _ := send(t, srv, "10.0.0.3", "POST", create, `{"name": "z"}`, nil); code != 401 {
		t.Fatalf("anonymous: %d", code)
	}
	// The trail is for administrators.
	if code, _ := send(t, srv, "10.0.0.2", "GET", "/api/v1/audit", "", map[string]string{"Authorization": "Bearer " + reader}); code != 403 {
		t.Fatalf("reader reading the trail: %d", code)
	}
	code, out := send(t, srv, "10.0.0.1", "GET", "/api/v1/audit?outcome=denied", "", adminAuth)
	if code != 200 {
		t.Fatalf("admin reading the trail: %d %v", code, out)
	}
	es := trail(t, srv)
	want := []struct{ actor, address, outcome string }{
		{"", "10.0.0.3", audit.Denied},
		{"admin", "10.0.0.2", audit.Denied},
		{"admin", "10.0.0.66", audit.Denied},
		{"admin", "10.0.0.1", audit.Succeeded},
	}
	if len(es) != len(want) {
		t.Fatalf("trail = %+v; want %d records", es, len(want))
	}
	for i, w := range want {
		if e := es[i]; e.Actor != w.actor || e.Address != w.address || e.Outcome != w.outcome {
			t.Errorf("record %d = %+v; want %+v", i, e, w)
		}
	}
	if es[1].Status != 403 || es[2].Status != 401 {
		t.Errorf("statuses %d, %d; want 403, 401", es[1].Status, es[2].Status)
	}
	if entries, _ := out["entries"].([]any); len(entries) != 3 {
		t.Errorf("GET /api/v1/audit?outcome=denied = %v", out)
	}
	for _, q := range []string{"outcome=maybe", "object_kind=planet", "since=yesterday", "max_results=0", "page_token=x"} {
		if code, _ := send(t, srv, "10.0.0.1", "GET", "/api/v1/audit?"+q, "", adminAuth); code != 400 {
			t.Errorf("GET /api/v1/audit?%s: %d; want 400", q, code)
		}
	}
}

// BenchmarkLogBatchAudit measures log_batch through the whole handler with the audit
// trail off (no wrapper) and on (the record peeked from the body and written in the
// request's transaction), with concurrent clients sharing group commits.
func BenchmarkLogBatchAudit(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			cfg := config.DefaultServer()
			cfg.DataDir = filepath.Join(b.TempDir(), "data")
			if err := cfg.Resolve(); err != nil {
				b.Fatal(err)
			}
			srv, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			opts := httpx.RouterOptions{}
			if on {
				opts.Wrap = srv.wrapRoute
			}
			handler, _, err := srv.routes(opts)
			if err != nil {
				b.Fatal(err)
			}
			do := func(target, body string) *httptest.ResponseRecorder {
				r := httptest.NewRequest("POST", target, strings.NewReader(body))
				r.Host = testHost
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				handler.ServeHTTP(w, r)
				return w
			}
			w := do("/api/2.0/mlflow/runs/create", `{"experiment_id": "0"}`)
			var created struct {
				Run struct {
					Info struct {
						RunID string `json:"run_id"`
					} `json:"info"`
				} `json:"run"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || w.Code != 200 {
				b.Fatalf("create run: %d %s", w.Code, w.Body)
			}
			var metrics []string
			for i := range 100 {
				metrics = append(metrics, `{"key": "m`+string(rune('a'+i%26))+`", "value": 0.5, "timestamp": 1, "step": `+strconv.Itoa(i)+`}`)
			}
			body := `{"run_id": "` + created.Run.Info.RunID + `", "metrics": [` + strings.Join(metrics, ",") + `]}`
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if w := do("/api/2.0/mlflow/runs/log-batch", body); w.Code != 200 {
						b.Errorf("log-batch: %d %s", w.Code, w.Body)
						return
					}
				}
			})
		})
	}
}

func TestTopLevelIDs(t *testing.T) {
	for _, tc := range []struct {
		body string
		want map[string]string
	}{
		{`{"run_id": "abc", "metrics": [{"key": "name", "value": 1}], "name": "x"}`, map[string]string{"run_id": "abc", "name": "x"}},
		{`{"metrics": [{"run_id": "inner"}], "run_id": "outer"}`, map[string]string{"run_id": "outer"}},
		{`{"experiment_id": 3, "tags": {"a": "}{]["}, "name": "q\"uote"}`, map[string]string{"experiment_id": "3", "name": `q"uote`}},
		{`{"name": null, "version": true, "alias": ["a"]}`, map[string]string{}},
		{`{"run_id": "abc", "metrics": [{"key": "m", "val`, map[string]string{"run_id": "abc"}},
		{`{"run_id": "ab`, map[string]string{}},
		{`[1, 2]`, nil},
		{``, nil},
	} {
		got := topLevelIDs([]byte(tc.body))
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v; want %v", tc.body, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("%s: %v; want %v", tc.body, got, tc.want)
			}
		}
	}
}

// FuzzTopLevelIDs holds the scanner to encoding/json on every valid object: the id
// fields it reads are the ones json decodes, and nothing it is given makes it panic.
func FuzzTopLevelIDs(f *testing.F) {
	for _, s := range []string{`{"run_id": "a", "metrics": [1, {"b": "c"}]}`, `{"name": "\u00e9\\", "version": -1.5e3}`, `{}`, `{"a":`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := topLevelIDs(b)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var obj map[string]any
		if dec.Decode(&obj) != nil || obj == nil {
			return
		}
		for k := range idFields {
			var want string
			switch v := obj[k].(type) {
			case string:
				want = v
			case json.Number:
				want = v.String()
			default:
				continue
			}
			if got[k] != want {
				t.Fatalf("%q: %s = %q; json says %q", b, k, got[k], want)
			}
		}
	})
}

func BenchmarkBodyIDs(b *testing.B) {
	var metrics []string
	for i := range 100 {
		metrics = append(metrics, `{"key": "metric", "value": 0.5, "timestamp": 1700000000000, "step": `+strconv.Itoa(i)+`}`)
	}
	body := []byte(`{"run_id": "0123456789abcdef0123456789abcdef", "metrics": [` + strings.Join(metrics, ",") + `]}`)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		topLevelIDs(body)
	}
}
