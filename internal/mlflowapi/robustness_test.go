package mlflowapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// postRoutes are the JSON POST routes, each fed the garbage bodies.
var postRoutes = []string{
	api + "experiments/create", api + "experiments/search", api + "experiments/delete",
	api + "experiments/restore", api + "experiments/update", api + "experiments/set-experiment-tag",
	api + "experiments/delete-experiment-tag", api + "runs/create", api + "runs/update",
	api + "runs/search", api + "runs/log-metric", api + "runs/log-parameter", api + "runs/set-tag",
	api + "runs/delete-tag", api + "runs/log-batch", api + "runs/log-inputs", api + "logged-models/search",
	artifacts + "mpu/create/x", artifacts + "mpu/complete/x", artifacts + "mpu/abort/x",
	api + "runs/delete", api + "runs/restore",
}

// getRoutes are the GET routes, each fed the garbage query strings.
var getRoutes = []string{
	api + "experiments/get", api + "experiments/get-by-name", api + "experiments/search", api + "runs/get",
	api + "metrics/get-history", api + "metrics/get-history-bulk-interval", api + "artifacts/list",
	api + "server-features", artifacts + "artifacts",
}

// garbageBodies are malformed or hostile request bodies. RUN stands for a real run id.
func garbageBodies() []string {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deepObj := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	offset := base64.StdEncoding.EncodeToString([]byte(`{"offset": 1e30}`))
	return []string{
		`{"run_id":"RUN","metrics":[{"key":"a","value":true,"timestamp":1}]}`,
		`[]`, `[1, 2]`, `{`, `"`, `""`, `"\"{}\""`, `null`, `true`, `12`, `{}{}`,
		`{"experiment_ids":{}}`, `{"experiment_ids":[{}]}`, `{"experiment_ids":[null, 1e400]}`,
		"{\"name\":\"\xff\xfe\",\"run_id\":\"RUN\",\"key\":\"\xff\",\"value\":\"\xfe\",\"experiment_id\":\"\xff\"}",
		deep, deepObj, `{"experiment_id":` + deep + `}`,
		`{"run_id":"RUN","key":"k","value":"v","timestamp":"1e400","step":"9223372036854775808"}`,
		`{"run_id":"RUN","metrics":[{"key":"k","value":1,"timestamp":9223372036854775807,"step":-9223372036854775808}]}`,
		`{"run_id":"RUN","metrics":[{"key":"k","value":"1e308","timestamp":1,"step":1e18}]}`,
		`{"experiment_id":"99999999999999999999","name":"n","new_name":"m","key":"k","value":"v"}`,
		`{"experiment_id":"-1"}`, `{"experiment_id":"0x10"}`,
		`{"run_id":"` + strings.Repeat("a", 300) + `"}`,
		`{"run_id":"RUN","run_uuid":"other","status":"FINISHED","end_time":"x"}`,
		`{"max_results":1e300,"order_by":[1],"filter":{}}`,
		`{"experiment_ids":["0"],"max_results":9223372036854775807}`,
		`{"experiment_ids":["0"],"filter":"metrics.a = 1 AND"}`,
		`{"experiment_ids":["0"],"filter":"` + strings.Repeat("(", 5000) + `"}`,
		`{"experiment_ids":["0"],"filter":"attributes.run_id IN ()"}`,
		`{"experiment_ids":["0"],"filter":"metrics.a > 1e999","order_by":["metrics.a DESC","params.b"]}`,
		`{"experiment_ids":["0"],"page_token":"` + offset + `"}`,
		`{"run_id":"RUN","datasets":[{"dataset":{"name":"n"}}],"models":[{}]}`,
		`{"run_id":"RUN","tags":[{"key":null,"value":null}],"params":[null]}`,
		`{"name":"x\u0000y","tags":[{"key":"k\u0000","value":"v"}]}`,
		`{"run_id":"RUN","params":[{"key":"long","value":"` + strings.Repeat("v", 7000) + `"}]}`,
		`{"path":"../x","num_parts":"1e9","upload_id":"../../x","parts":[{"part_number":-1,"etag":null}]}`,
		`{"path":"a.bin","num_parts":2,"upload_id":"zz","parts":[{"part_number":99999999999}]}`,
	}
}

// garbageQueries are malformed or hostile query strings.
var garbageQueries = []string{
	"run_id=%ff%fe&metric_key=%ff", "max_results=99999999999999999999", "run_ids=&metric_key=m&max_results=0",
	"experiment_id=", "%zz=1", "a=1;b=2", "page_token=%00", "start_step=1&run_ids=x&metric_key=m",
	"path=%00", "path=..%2f..", "experiment_name=%00", "run_id=RUN&path=%2e%2e", "view_type=ALL&view_type=2",
	"max_results=-1&run_id=RUN&metric_key=m", "order_by=metrics.x&order_by=metrics.x",
	"filter=" + strings.Repeat("%28", 3000),
}

func TestGarbageNeverFailsTheServer(t *testing.T) {
	s := newServer(t, nil)
	_, run := s.createRun(t, "garbage")
	for _, route := range postRoutes {
		t.Run(route, func(t *testing.T) {
			for _, body := range garbageBodies() {
				r := s.do(t, "POST", route, strings.ReplaceAll(body, "RUN", run))
				checkNot5xx(t, "POST "+route, abbrev(body), r)
			}
		})
	}
	for _, route := range getRoutes {
		t.Run(route, func(t *testing.T) {
			for _, q := range garbageQueries {
				r := s.raw(t, "GET", route+"?"+strings.ReplaceAll(q, "RUN", run), nil)
				checkNot5xx(t, "GET "+route, q, r)
			}
		})
	}
}

// checkNot5xx fails on a 5xx, and on an error answer that is not MLflow's shape.
func checkNot5xx(t *testing.T, what, input string, r reply) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("%s with %s: status %d %s", what, input, r.status, r.body)
		return
	}
	if r.status >= 400 {
		var e struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		}
		if err := json.Unmarshal(r.body, &e); err != nil || e.ErrorCode == "" || e.Message == "" {
			t.Errorf("%s with %s: status %d with body %q, not an MLflow error", what, input, r.status, r.body)
		}
	}
}

func abbrev(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// FuzzDecode feeds arbitrary bodies, and query strings, to endpoints through the whole
// handler: whatever arrives, the answer is never a 5xx.
func FuzzDecode(f *testing.F) {
	s := newServer(f, nil)
	_, run := s.createRun(f, "fuzz")
	handler := s.Config.Handler
	targets := []string{
		api + "runs/log-batch", api + "runs/search", api + "experiments/create", api + "runs/log-inputs",
		api + "runs/update", artifacts + "mpu/complete/x",
	}
	for i, body := range garbageBodies() {
		if len(body) < 4096 { // huge seeds make minimizing crawl
			f.Add(uint8(i), []byte(body))
		}
	}
	for i, q := range garbageQueries {
		f.Add(uint8(i), []byte(q))
	}
	f.Add(uint8(0), []byte(`{"run_id":"RUN","metrics":[{"key":"m","value":"NaN","timestamp":1,"step":2}],"params":[{"key":"p","value":"v"}]}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		body = bytes.ReplaceAll(body, []byte("RUN"), []byte(run))
		var req *http.Request
		if n := int(route) % (len(targets) + len(getRoutes)); n < len(targets) {
			req = httptest.NewRequest("POST", targets[n], bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req = httptest.NewRequest("GET", getRoutes[n-len(targets)], nil)
			req.URL.RawQuery = string(body)
		}
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s with %q: status %d %s", req.Method, req.URL.Path, body, w.Code, w.Body)
		}
	})
}
