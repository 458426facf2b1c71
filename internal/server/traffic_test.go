package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/runtime/native/nativetest"
	"github.com/mlship/mlship/internal/serving"
)

// What a deployment answered survives a restart of the server: the history is flushed
// as the deployments close, and the next server reads it back.
func TestTrafficSurvivesRestart(t *testing.T) {
	srv, cfg := newTestServer(t, nil)
	call := func(srv *Server, method, target, body string, wantCode int) []byte {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = testHost
		if method == "POST" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != wantCode {
			t.Fatalf("%s %s: %d %s, want %d", method, target, w.Code, w.Body, wantCode)
		}
		return w.Body.Bytes()
	}
	field := func(body []byte, path ...string) string {
		var v any
		json.Unmarshal(body, &v)
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v.(string)
	}
	const mlflow = "/api/2.0/mlflow/"
	exp := field(call(srv, "POST", mlflow+"experiments/create", `{"name":"t"}`, 200), "experiment_id")
	run := field(call(srv, "POST", mlflow+"runs/create", `{"experiment_id":"`+exp+`"}`, 200), "run", "info", "run_id")
	onnx, err := os.ReadFile(filepath.Join(nativetest.Corpus(), "logreg_binary.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	root := "/api/2.0/mlflow-artifacts/artifacts/" + exp + "/" + run + "/artifacts/model/"
	call(srv, "PUT", root+"MLmodel", nativetest.MLmodel, 200)
	call(srv, "PUT", root+"model.onnx", string(onnx), 200)
	call(srv, "POST", "/api/v1/deployments", `{"name":"lr","model":"runs:/`+run+`/model"}`, 200)
	deadline := time.Now().Add(20 * time.Second)
	for d, _ := srv.deployments.Get("lr"); !d.Ready(); {
		if time.Now().After(deadline) {
			t.Fatal("the deployment did not load")
		}
		time.Sleep(20 * time.Millisecond)
	}
	row := `[` + strings.TrimSuffix(strings.Repeat("0.5,", 10), ",") + `]`
	for range 5 {
		call(srv, "POST", "/v2/models/lr/infer", `{"inputs":[{"name":"X","shape":[1,10],"datatype":"FP32","data":`+row+`}]}`, 200)
	}
	call(srv, "POST", "/v2/models/lr/infer", `{"inputs":[{"name":"X","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}`, 400)
	srv.deployments.Close() // as the server does on its way out
	srv.Close()

	srv2, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if err := srv2.deployments.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer srv2.deployments.Close()
	var st serving.DeploymentStats
	json.Unmarshal(call(srv2, "GET", "/api/v1/deployments/lr/stats?window=24h", "", 200), &st)
	if len(st.Roles) != 1 || st.Roles[0].Requests != 6 || st.Roles[0].Failures != 1 || st.Roles[0].ClientErrors != 1 ||
		len(st.Hourly) == 0 || st.Since == 0 {
		t.Errorf("after the restart, 24h stats = %+v", st)
	}
}
