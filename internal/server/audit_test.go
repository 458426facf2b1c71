package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/httpx"
)

func auditServer(t testing.TB, withAuth bool) *Server {
	t.Helper()
	srv, _ := newTestServer(t, func(cfg *config.Server) {
		if withAuth {
			cfg.Auth, cfg.AdminPassword = true, "audit-admin-password"
		}
	})
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
	if h := hdr["Host"]; h != "" {
		r.Host = h
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
		{"POST experiments/create", id, audit.Succeeded, "10.1.2.3"}, // by the id it was given
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
		{"admin", "10.0.0.2", audit.Denied}, // a read refused for its scope
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
	if es[2].Status != 403 || es[3].Status != 401 || es[0].Route != "GET /api/v1/audit" || es[0].Status != 403 {
		t.Errorf("records %+v; want 403, 403, 401", es[:4])
	}
	if entries, _ := out["entries"].([]any); len(entries) != 4 {
		t.Errorf("GET /api/v1/audit?outcome=denied = %v", out)
	}
	for _, q := range []string{"outcome=maybe", "object_kind=planet", "since=yesterday", "max_results=0", "page_token=x"} {
		if code, _ := send(t, srv, "10.0.0.1", "GET", "/api/v1/audit?"+q, "", adminAuth); code != 400 {
			t.Errorf("GET /api/v1/audit?%s: %d; want 400", q, code)
		}
	}
}

// BenchmarkLogBatchAudit measures log_batch (100 metrics) through the whole handler
// with the audit trail off (no wrapper) and on (the record peeked from the body and
// written in the request's transaction), from concurrent clients sharing group commits.
// Each client sends to both servers in turn, so that the machine's other work (and the
// disk's, as every commit is fsynced) falls on both alike: on/off is the ratio of their
// median request times, which a sequential off-then-on measurement leaves to chance.
func BenchmarkLogBatchAudit(b *testing.B) {
	var handlers [2]func() int
	for i, on := range []bool{false, true} {
		handlers[i] = logBatchHandler(b, on)
	}
	var (
		mu    sync.Mutex
		times [2][]time.Duration
	)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine [2][]time.Duration
		for n := 0; pb.Next(); n++ {
			for k := range 2 {
				i := (n + k) % 2 // alternate which goes first
				start := time.Now()
				if code := handlers[i](); code != 200 {
					b.Errorf("log-batch: %d", code)
					return
				}
				mine[i] = append(mine[i], time.Since(start))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for i := range 2 {
			times[i] = append(times[i], mine[i]...)
		}
	})
	b.StopTimer()
	median := func(ds []time.Duration) float64 {
		slices.Sort(ds)
		return float64(ds[len(ds)/2])
	}
	if len(times[0]) > 0 && len(times[1]) > 0 {
		off, on := median(times[0]), median(times[1])
		b.ReportMetric(off/1e6, "ms-off")
		b.ReportMetric(on/1e6, "ms-on")
		b.ReportMetric(on/off, "on/off")
	}
}

// logBatchHandler starts a server, with the audit trail's wrapper or without, creates a
// run, and returns a function that logs a batch of 100 metrics to it.
func logBatchHandler(b *testing.B, audited bool) func() int {
	srv := auditServer(b, false)
	opts := httpx.RouterOptions{}
	if audited {
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
	// Every batch logs new steps: a batch logged again is a metric already there, which
	// changes no row, and a commit that writes nothing costs no fsync (without the audit
	// row; with it, the commit writes the row), which would set a no-op against a write.
	var batches atomic.Int64
	return func() int {
		n := batches.Add(1) * 100
		metrics := make([]string, 100)
		for i := range metrics {
			metrics[i] = `{"key": "m` + string(rune('a'+i%26)) + `", "value": 0.5, "timestamp": 1, "step": ` + strconv.FormatInt(n+int64(i), 10) + `}`
		}
		body := `{"run_id": "` + created.Run.Info.RunID + `", "metrics": [` + strings.Join(metrics, ",") + `]}`
		return do("/api/2.0/mlflow/runs/log-batch", body).Code
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

// TestAuditNamesCreatedObjects: a creation is recorded with the id its object was
// given in the write, which the request could not name (a run's id, a version's number).
func TestAuditNamesCreatedObjects(t *testing.T) {
	srv := auditServer(t, false)
	const mlflow = "/api/2.0/mlflow/"
	_, out := send(t, srv, "10.3.0.1", "POST", mlflow+"experiments/create", `{"name": "created"}`, nil)
	exp, _ := out["experiment_id"].(string)
	_, out = send(t, srv, "10.3.0.1", "POST", mlflow+"runs/create", `{"experiment_id": "`+exp+`"}`, nil)
	run, _ := out["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	_, out = send(t, srv, "10.3.0.1", "POST", mlflow+"logged-models", `{"experiment_id": "`+exp+`", "name": "lm"}`, nil)
	lm, _ := out["model"].(map[string]any)["info"].(map[string]any)["model_id"].(string)
	send(t, srv, "10.3.0.1", "POST", mlflow+"registered-models/create", `{"name": "cm"}`, nil)
	if code, out := send(t, srv, "10.3.0.1", "POST", mlflow+"model-versions/create", `{"name": "cm", "source": "mlflow-artifacts:/0/x"}`, nil); code != 200 {
		t.Fatalf("create a version: %d %v", code, out)
	}
	want := map[string]string{"POST experiments/create": exp, "POST runs/create": run, "POST logged-models": lm,
		"POST registered-models/create": "cm", "POST model-versions/create": "cm/1"}
	for _, e := range trail(t, srv) {
		if w, ok := want[e.Action]; ok {
			if e.Object != w || e.Outcome != audit.Succeeded {
				t.Errorf("%s recorded %q (%s); want %q", e.Action, e.Object, e.Outcome, w)
			}
			delete(want, e.Action)
		}
	}
	if len(want) > 0 || exp == "" || run == "" || lm == "" {
		t.Errorf("not recorded: %v", want)
	}
}

// TestAuditRefusalsBeforeRoutes: requests refused before any handler ran (a Host the
// server does not answer to, a cross-origin change, a body of the wrong type, a read
// without credentials) are recorded, once a minute per actor, address and check.
func TestAuditRefusalsBeforeRoutes(t *testing.T) {
	srv := auditServer(t, true)
	const create = "/api/2.0/mlflow/experiments/create"
	adminAuth := "Basic " + basic("admin", "audit-admin-password")
	for range 3 {
		if code, _ := send(t, srv, "10.4.0.1", "GET", "/api/2.0/mlflow/experiments/search", "", map[string]string{"Host": "evil.example:5000"}); code != 403 {
			t.Fatalf("foreign Host: %d", code)
		}
	}
	if code, _ := send(t, srv, "10.4.0.2", "POST", create, `{"name": "csrf"}`,
		map[string]string{"Authorization": adminAuth, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); code != 403 {
		t.Fatalf("cross-origin: %d", code)
	}
	if code, _ := send(t, srv, "10.4.0.3", "POST", create, `{"name": "form"}`,
		map[string]string{"Authorization": adminAuth, "Content-Type": "text/plain"}); code/100 != 4 {
		t.Fatalf("text/plain body: %d", code)
	}
	if code, _ := send(t, srv, "10.4.0.4", "GET", "/api/2.0/mlflow/experiments/get?experiment_id=0", "", nil); code != 401 {
		t.Fatalf("anonymous read: %d", code)
	}
	want := map[string]struct {
		address, actor string
		status         int
	}{
		"edge host":                           {"10.4.0.1", "", 403},
		"edge cross-origin":                   {"10.4.0.2", "admin", 403},
		"POST " + create:                      {"10.4.0.3", "admin", 400},
		"GET /api/2.0/mlflow/experiments/get": {"10.4.0.4", "", 401},
	}
	seen := map[string]int{}
	for _, e := range trail(t, srv) {
		w, ok := want[e.Route]
		if !ok {
			continue
		}
		seen[e.Route]++
		if e.Address != w.address || e.Actor != w.actor || e.Status != w.status || e.Outcome != audit.Denied {
			t.Errorf("%s recorded as %+v; want %+v", e.Route, e, w)
		}
	}
	for route := range want {
		if seen[route] != 1 {
			t.Errorf("%s recorded %d times; want once", route, seen[route])
		}
	}
}
