package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/config"
)

// The overview lists only the models the caller may read.
func TestOverviewVisibility(t *testing.T) {
	srv, _ := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword, cfg.DefaultPermission = true, "overview-admin-password", "NO_PERMISSIONS"
	})
	createUsers(t, srv, "owner", "stranger")
	call := func(who, method, target, body string) map[string]any {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = testHost
		if method == "POST" {
			r.Header.Set("Content-Type", "application/json")
		}
		r.SetBasicAuth(who, who+"-password-long")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		if w.Code != 200 {
			t.Fatalf("%s %s as %s: %d %s", method, target, who, w.Code, w.Body)
		}
		return out
	}
	const mlflow = "/api/2.0/mlflow/"
	exp := call("owner", "POST", mlflow+"experiments/create", `{"name":"o"}`)["experiment_id"].(string)
	run := call("owner", "POST", mlflow+"runs/create", `{"experiment_id":"`+exp+`"}`)["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	call("owner", "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+exp+"/"+run+"/artifacts/model/MLmodel", "flavors: {}\n")
	call("owner", "POST", mlflow+"registered-models/create", `{"name":"secret"}`)
	call("owner", "POST", mlflow+"model-versions/create", `{"name":"secret","run_id":"`+run+`","source":"mlflow-artifacts:/`+exp+`/`+run+`/artifacts/model"}`)
	for who, want := range map[string]int{"owner": 1, "stranger": 0} {
		out := call(who, "GET", "/api/v1/overview", "")
		if stalled, _ := out["stalled"].([]any); len(stalled) != want {
			t.Errorf("%s sees %d stalled models, want %d: %v", who, len(stalled), want, out)
		}
	}
}
