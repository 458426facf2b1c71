package mlflowapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/version"
)

func TestBothPrefixes(t *testing.T) {
	s := newServer(t, nil)
	for i, prefix := range []string{api, ajax} {
		t.Run(prefix, func(t *testing.T) {
			name := fmt.Sprintf("prefix-%d", i)
			id := s.do(t, "POST", prefix+"experiments/create", map[string]any{"name": name}).ok(t)["experiment_id"]
			got := s.do(t, "GET", prefix+"experiments/get?experiment_id="+id.(string), nil).ok(t)
			if dig(got, "experiment", "name") != name {
				t.Errorf("experiments/get = %v", got)
			}
			s.do(t, "GET", prefix+"no-such-endpoint", nil).wantError(t, 404, "ENDPOINT_NOT_FOUND")
			s.do(t, "POST", prefix+"runs/no-such-endpoint", "{}").wantError(t, 404, "ENDPOINT_NOT_FOUND")
			r := s.do(t, "GET", prefix+"runs/create", nil)
			if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
				t.Errorf("GET runs/create: status %d, Allow %q; want 405, POST", r.status, r.header.Get("Allow"))
			}
		})
	}
}

func TestGetQueryDecoding(t *testing.T) {
	s := newServer(t, nil)
	exp, run1 := s.createRun(t, "query")
	run2 := dig(s.do(t, "POST", api+"runs/create", map[string]any{"experiment_id": exp}).ok(t), "run", "info", "run_id").(string)
	for _, run := range []string{run1, run2} {
		var metrics []map[string]any
		for step := range 6 {
			metrics = append(metrics, map[string]any{"key": "m", "value": step, "timestamp": 100 + step, "step": step})
		}
		s.do(t, "POST", api+"runs/log-batch", map[string]any{"run_id": run, "metrics": metrics}).ok(t)
	}

	// Ints arrive as strings, and a page token carries on.
	page := s.do(t, "GET", api+"metrics/get-history?run_id="+run1+"&metric_key=m&max_results=4", nil).ok(t)
	if n := len(page["metrics"].([]any)); n != 4 || page["next_page_token"] == nil {
		t.Fatalf("first page: %d metrics, token %v", n, page["next_page_token"])
	}
	page = s.do(t, "GET", api+"metrics/get-history?run_uuid="+run1+"&metric_key=m&max_results=4&page_token="+
		url.QueryEscape(page["next_page_token"].(string)), nil).ok(t)
	if n := len(page["metrics"].([]any)); n != 2 || page["next_page_token"] != nil {
		t.Errorf("second page: %d metrics, token %v", n, page["next_page_token"])
	}

	// Repeated keys are lists.
	bulk := s.do(t, "GET", api+"metrics/get-history-bulk-interval?run_ids="+run1+"&run_ids="+run2+
		"&metric_key=m&start_step=1&end_step=4&max_results=10", nil).ok(t)
	seen := map[any]int{}
	for _, m := range bulk["metrics"].([]any) {
		seen[dig(m, "run_id")]++
	}
	if seen[run1] != 4 || seen[run2] != 4 || len(seen) != 2 {
		t.Errorf("bulk interval points per run = %v", seen)
	}
	for _, name := range []string{"q-b", "q-a", "q-c"} {
		s.do(t, "POST", api+"experiments/create", map[string]any{"name": name}).ok(t)
	}
	got := s.do(t, "GET", api+"experiments/search?filter="+url.QueryEscape("name LIKE 'q-%'")+
		"&order_by=name+DESC&order_by=experiment_id&max_results=2&view_type=3", nil).ok(t)
	if names := experimentNames(got); names != "q-c q-b" || got["next_page_token"] == nil {
		t.Errorf("search = %s (token %v), want q-c q-b and a token", names, got["next_page_token"])
	}

	for _, q := range []string{
		"experiments/search?max_results=many",
		"experiments/search?max_results=1.5",
		"experiments/search?view_type=7",
		"experiments/search?max_results=1;view_type=2",
		"metrics/get-history?run_id=" + run1 + "&metric_key=m&max_results=true",
	} {
		s.do(t, "GET", api+q, nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}
}

func experimentNames(resp map[string]any) string {
	var names []string
	for _, e := range dig(resp, "experiments").([]any) {
		names = append(names, dig(e, "name").(string))
	}
	return strings.Join(names, " ")
}

func TestPostContentType(t *testing.T) {
	s := newServer(t, nil)
	for _, tc := range []struct {
		ctype string
		want  int
	}{
		{"", 400},
		{"text/plain", 400},
		{"application/x-www-form-urlencoded", 400},
		{"multipart/form-data; boundary=x", 400},
		{"application/jsonx", 400},
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
	} {
		t.Run(tc.ctype, func(t *testing.T) {
			r := s.do(t, "POST", api+"experiments/search", `{"max_results": 1}`, "Content-Type", tc.ctype)
			if tc.want == 200 {
				r.ok(t)
				return
			}
			r.wantError(t, tc.want, "INVALID_PARAMETER_VALUE")
		})
	}
}

func TestBodyForms(t *testing.T) {
	s := newServer(t, nil)
	// An empty body is {}.
	if names := experimentNames(s.do(t, "POST", api+"experiments/search", "").ok(t)); names != "Default" {
		t.Errorf("search with an empty body = %q", names)
	}
	run := s.do(t, "POST", api+"runs/create", "  ").ok(t)
	if dig(run, "run", "info", "experiment_id") != "0" || dig(run, "run", "info", "status") != "RUNNING" {
		t.Errorf("runs/create with an empty body = %v", run)
	}
	// A JSON string holding JSON is decoded twice.
	inner, _ := json.Marshal(map[string]any{"name": "twice", "tags": []any{map[string]any{"key": "k", "value": "v"}}})
	outer, _ := json.Marshal(string(inner))
	s.do(t, "POST", api+"experiments/create", outer).ok(t)
	got := s.do(t, "GET", api+"experiments/get-by-name?experiment_name=twice", nil).ok(t)
	if dig(got, "experiment", "tags", 0, "value") != "v" {
		t.Errorf("double-encoded create = %v", got)
	}
	// Unknown fields are ignored.
	s.do(t, "POST", api+"experiments/create", `{"name": "extra", "no_such_field": {"a": [1]}}`).ok(t)
}

func TestEnums(t *testing.T) {
	s := newServer(t, nil)
	exp, run := s.createRun(t, "enums")
	for _, tc := range []struct {
		status any
		want   string
	}{
		{"FINISHED", "FINISHED"}, {4, "FAILED"}, {"5", "KILLED"}, {2, "SCHEDULED"}, {"RUNNING", "RUNNING"},
	} {
		got := s.do(t, "POST", api+"runs/update", map[string]any{"run_id": run, "status": tc.status}).ok(t)
		if dig(got, "run_info", "status") != tc.want {
			t.Errorf("status %v: run_info = %v, want %s", tc.status, got["run_info"], tc.want)
		}
	}
	for _, bad := range []any{0, 6, -1, "BOGUS", true, 1.5, []any{1}} {
		s.do(t, "POST", api+"runs/update", map[string]any{"run_id": run, "status": bad}).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}

	deleted := dig(s.do(t, "POST", api+"runs/create", map[string]any{"experiment_id": exp}).ok(t), "run", "info", "run_id")
	s.do(t, "POST", api+"runs/delete", map[string]any{"run_id": deleted}).ok(t)
	for _, tc := range []struct {
		view any
		want int
	}{{1, 1}, {2, 1}, {3, 2}, {"ALL", 2}, {"DELETED_ONLY", 1}, {"ACTIVE_ONLY", 1}, {"3", 2}, {nil, 1}} {
		body := map[string]any{"experiment_ids": []any{exp}}
		if tc.view != nil {
			body["run_view_type"] = tc.view
		}
		runs, _ := s.do(t, "POST", api+"runs/search", body).ok(t)["runs"].([]any)
		if len(runs) != tc.want {
			t.Errorf("run_view_type %v: %d runs, want %d", tc.view, len(runs), tc.want)
		}
	}
	s.do(t, "POST", api+"runs/search", map[string]any{"experiment_ids": []any{exp}, "run_view_type": 4}).
		wantError(t, 400, "INVALID_PARAMETER_VALUE")
}

func TestExperimentIDAsNumber(t *testing.T) {
	s := newServer(t, nil)
	created := s.do(t, "POST", api+"experiments/create", map[string]any{"name": "numeric"}).ok(t)
	id, isString := created["experiment_id"].(string)
	if !isString {
		t.Fatalf("experiment_id = %#v, want a JSON string", created["experiment_id"])
	}
	var n json.Number = json.Number(id)
	run := s.do(t, "POST", api+"runs/create", map[string]any{"experiment_id": n}).ok(t)
	if dig(run, "run", "info", "experiment_id") != id {
		t.Errorf("run in experiment %v, want %q", dig(run, "run", "info", "experiment_id"), id)
	}
	runs := s.do(t, "POST", api+"runs/search", map[string]any{"experiment_ids": []any{n, 0}}).ok(t)["runs"].([]any)
	if len(runs) != 1 {
		t.Errorf("runs/search with numeric ids found %d runs", len(runs))
	}
	s.do(t, "POST", api+"experiments/set-experiment-tag", map[string]any{"experiment_id": n, "key": "k", "value": "v"}).ok(t)
	s.do(t, "POST", api+"experiments/delete", map[string]any{"experiment_id": n}).ok(t)
	s.do(t, "POST", api+"experiments/restore", map[string]any{"experiment_id": n}).ok(t)
	s.do(t, "POST", api+"experiments/update", map[string]any{"experiment_id": n, "new_name": "renamed"}).ok(t)
	if got := s.do(t, "GET", api+"experiments/get?experiment_id="+id, nil).ok(t); dig(got, "experiment", "name") != "renamed" {
		t.Errorf("experiment after numeric-id calls = %v", got)
	}
	for _, bad := range []string{`{"experiment_id": 1.5}`, `{"experiment_id": true}`, `{"experiment_id": {}}`} {
		s.do(t, "POST", api+"experiments/delete", bad).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}
}

func TestErrorStatuses(t *testing.T) {
	s := newServer(t, nil)
	_, run := s.createRun(t, "errors")
	s.do(t, "POST", api+"runs/log-parameter", map[string]any{"run_id": run, "key": "p", "value": "1"}).ok(t)
	_, gone := s.createRun(t, "errors-2")
	s.do(t, "POST", api+"runs/delete", map[string]any{"run_id": gone}).ok(t)
	missing := strings.Repeat("f", 32)
	for _, tc := range []struct {
		name, method, target string
		body                 any
		status               int
		code                 string
	}{
		{"missing run", "GET", api + "runs/get?run_id=" + missing, nil, 404, "RESOURCE_DOES_NOT_EXIST"},
		{"missing experiment", "GET", api + "experiments/get?experiment_id=424242", nil, 404, "RESOURCE_DOES_NOT_EXIST"},
		{"missing name", "GET", api + "experiments/get-by-name?experiment_name=nope", nil, 404, "RESOURCE_DOES_NOT_EXIST"},
		{"run in missing experiment", "POST", api + "runs/create", map[string]any{"experiment_id": "424242"}, 404, "RESOURCE_DOES_NOT_EXIST"},
		{"duplicate experiment", "POST", api + "experiments/create", map[string]any{"name": "errors"}, 400, "RESOURCE_ALREADY_EXISTS"},
		{"changed param", "POST", api + "runs/log-parameter", map[string]any{"run_id": run, "key": "p", "value": "2"}, 400, "INVALID_PARAMETER_VALUE"},
		{"deleted run", "POST", api + "runs/set-tag", map[string]any{"run_id": gone, "key": "k", "value": "v"}, 400, "INVALID_PARAMETER_VALUE"},
		{"missing required field", "POST", api + "runs/log-metric", map[string]any{"run_id": run, "key": "m", "timestamp": 1}, 400, "INVALID_PARAMETER_VALUE"},
		{"max_results over", "POST", api + "runs/search", map[string]any{"experiment_ids": []any{"0"}, "max_results": 50001}, 400, "INVALID_PARAMETER_VALUE"},
		{"max_results zero", "POST", api + "runs/search", map[string]any{"experiment_ids": []any{"0"}, "max_results": 0}, 400, "INVALID_PARAMETER_VALUE"},
		{"bad filter", "POST", api + "runs/search", map[string]any{"experiment_ids": []any{"0"}, "filter": "metrics.m = 'x'"}, 400, "INVALID_PARAMETER_VALUE"},
		{"unknown endpoint", "GET", api + "nope", nil, 404, "ENDPOINT_NOT_FOUND"},
		{"unknown artifact endpoint", "GET", artifacts + "nope", nil, 404, "ENDPOINT_NOT_FOUND"},
		{"artifact method", "POST", artifacts + "artifacts/x.txt", "{}", 404, "ENDPOINT_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.do(t, tc.method, tc.target, tc.body).wantError(t, tc.status, tc.code)
		})
	}
}

func TestOversizedBody(t *testing.T) {
	s := newServer(t, nil)
	big := `{"name": "` + strings.Repeat("a", 1<<20) + `"}`
	for _, target := range []string{api + "experiments/create", artifacts + "mpu/create/dir"} {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s chunked=%v", target, chunked), func(t *testing.T) {
				var body io.Reader = strings.NewReader(big)
				if chunked {
					body = io.MultiReader(body) // hides the length: sent chunked
				}
				req, err := http.NewRequest("POST", s.URL+target, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				r := s.send(t, req)
				r.wantError(t, http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED")
			})
		}
	}
	if names := experimentNames(s.do(t, "POST", api+"experiments/search", `{"view_type": "ALL"}`).ok(t)); names != "Default" {
		t.Errorf("an oversized request created something: %s", names)
	}
}

func TestSpecialFloatsOnTheWire(t *testing.T) {
	s := newServer(t, nil)
	_, run := s.createRun(t, "floats")
	for i, v := range []any{"NaN", "Infinity", "-Infinity", 1.5, "2.5"} {
		s.do(t, "POST", api+"runs/log-metric", map[string]any{"run_id": run, "key": "w", "value": v, "timestamp": 10 + i, "step": i}).ok(t)
	}
	s.do(t, "POST", api+"runs/log-batch", map[string]any{"run_id": run, "metrics": []any{
		map[string]any{"key": "nan", "value": "NaN", "timestamp": 1},
		map[string]any{"key": "inf", "value": "Infinity", "timestamp": 1},
	}}).ok(t)
	hist := s.do(t, "GET", api+"metrics/get-history?run_id="+run+"&metric_key=w", nil).ok(t)["metrics"].([]any)
	// NaN goes out as the string "NaN"; infinities are stored, as MLflow stores them, as
	// the largest finite doubles, so they go out as numbers.
	want := []any{"NaN", math.MaxFloat64, -math.MaxFloat64, 1.5, 2.5}
	if len(hist) != len(want) {
		t.Fatalf("history = %v", hist)
	}
	for i, w := range want {
		if v := dig(hist[i], "value"); v != w {
			t.Errorf("point %d value = %#v, want %#v", i, v, w)
		}
	}
	metrics := map[any]any{}
	for _, m := range dig(s.do(t, "GET", api+"runs/get?run_id="+run, nil).ok(t), "run", "data", "metrics").([]any) {
		metrics[dig(m, "key")] = dig(m, "value")
	}
	if metrics["nan"] != "NaN" || metrics["inf"] != math.MaxFloat64 || metrics["w"] != 2.5 {
		t.Errorf("latest metrics = %v", metrics)
	}
	for _, bad := range []string{`NaN`, `1e999`, `"nan-ish"`, `true`, `null`, `[1]`} {
		body := `{"run_id": "` + run + `", "key": "bad", "timestamp": 1, "value": ` + bad + `}`
		s.do(t, "POST", api+"runs/log-metric", body).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}
}

func TestHealthEndpoints(t *testing.T) {
	s := newServer(t, nil)
	for path, want := range map[string]string{"/health": "OK", "/version": version.MLflow, "/healthz": "ok", "/readyz": "ok"} {
		r := s.do(t, "GET", path, nil)
		if r.status != 200 || strings.TrimSpace(string(r.body)) != want || want == "" {
			t.Errorf("GET %s = %d %q, want 200 %q", path, r.status, r.body, want)
		}
	}
}

func TestServeArtifactsOff(t *testing.T) {
	s := newServer(t, func(c *config.Server) { c.ServeArtifacts = false })
	for _, tc := range []struct{ method, target string }{
		{"GET", artifacts + "artifacts/a.txt"},
		{"PUT", artifacts + "artifacts/a.txt"},
		{"GET", artifacts + "artifacts?path=a"},
		{"DELETE", artifacts + "artifacts/a"},
		{"POST", artifacts + "mpu/create/a"},
	} {
		r := s.do(t, tc.method, tc.target, "x")
		r.wantError(t, http.StatusServiceUnavailable, "TEMPORARILY_UNAVAILABLE")
		if r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s: no Retry-After", tc.method, tc.target)
		}
	}
	// The tracking API still answers, and lists a run's artifacts as none.
	_, run := s.createRun(t, "no-proxy")
	got := s.do(t, "GET", api+"artifacts/list?run_id="+run, nil).ok(t)
	if !strings.HasPrefix(got["root_uri"].(string), "mlflow-artifacts:/") || got["files"] != nil {
		t.Errorf("artifacts/list = %v", got)
	}
}
