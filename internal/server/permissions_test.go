package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/audit"
	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/serving"
)

// TestObjectPermissions walks requests on one experiment and one registered model as
// callers holding no grant, READ, EDIT, a team's EDIT, a team's EDIT and its own DENY
// (which wins), MANAGE (the creator) and an administrator, with the default permission
// NO_PERMISSIONS, through the whole server: each is answered as its level allows, and
// searches list only what the caller reads.
func TestObjectPermissions(t *testing.T) {
	srv, cfg := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword, cfg.DefaultPermission = true, "perm-admin-password", "NO_PERMISSIONS"
	})
	users := []string{"owner", "stranger", "reader", "editor", "member", "denied"}
	createUsers(t, srv, users...)
	call := func(who, method, target, body string) (int, map[string]any) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = testHost
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		pw := who + "-password-long"
		if who == "admin" {
			pw = cfg.AdminPassword
		}
		r.SetBasicAuth(who, pw)
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		var out map[string]any
		json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	const mlflow = "/api/2.0/mlflow/"
	code, out := call("owner", "POST", mlflow+"experiments/create", `{"name":"a"}`)
	if code != 200 {
		t.Fatalf("create: %d %v", code, out)
	}
	exp := out["experiment_id"].(string)
	call("admin", "POST", mlflow+"experiments/create", `{"name":"b"}`)
	_, out = call("owner", "POST", mlflow+"runs/create", `{"experiment_id":"`+exp+`"}`)
	run := out["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	if code, out := call("owner", "POST", mlflow+"registered-models/create", `{"name":"m"}`); code != 200 {
		t.Fatalf("create model: %d %v", code, out)
	}
	_, out = call("owner", "POST", mlflow+"logged-models", `{"experiment_id":"`+exp+`","name":"lm"}`)
	lm, _ := out["model"].(map[string]any)["info"].(map[string]any)["model_id"].(string)
	if code, out := call("admin", "POST", "/api/v1/teams", `{"name":"ds"}`); code != 201 {
		t.Fatalf("team: %d %v", code, out)
	}
	call("admin", "PUT", "/api/v1/teams/ds/members/member", `{}`)
	call("admin", "PUT", "/api/v1/teams/ds/members/denied", `{}`)
	for _, g := range []string{
		`{"kind":"experiment","object":"` + exp + `","user":"reader","level":"READ"}`,
		`{"kind":"experiment","object":"` + exp + `","user":"editor","level":"EDIT"}`,
		`{"kind":"experiment","object":"` + exp + `","team":"ds","level":"EDIT"}`,
		`{"kind":"registered_model","object":"m","user":"reader","level":"READ"}`,
		`{"kind":"registered_model","object":"m","user":"editor","level":"EDIT"}`,
		`{"kind":"registered_model","object":"m","team":"ds","level":"EDIT"}`,
		`{"kind":"experiment","object":"` + exp + `","user":"denied","level":"DENY"}`,
		`{"kind":"registered_model","object":"m","user":"denied","level":"DENY"}`,
	} {
		if code, out := call("owner", "POST", "/api/v1/permissions", g); code != 200 {
			t.Fatalf("grant %s: %d %v", g, code, out)
		}
	}
	// The levels of the callers in users' order after owner, then admin.
	callers := []string{"stranger", "reader", "editor", "member", "denied", "owner", "admin"}
	level := map[string]auth.Level{"stranger": auth.NoPermissions, "reader": auth.LevelRead, "editor": auth.LevelEdit,
		"member": auth.LevelEdit, "denied": auth.LevelDeny, "owner": auth.LevelManage, "admin": auth.LevelManage}
	requests := []struct {
		method, target, body string
		need                 auth.Level
	}{
		{"GET", mlflow + "experiments/get?experiment_id=" + exp, "", auth.LevelRead},
		{"GET", mlflow + "experiments/get-by-name?experiment_name=a", "", auth.LevelRead},
		{"GET", mlflow + "runs/get?run_id=" + run, "", auth.LevelRead},
		{"GET", mlflow + "metrics/get-history?run_id=" + run + "&metric_key=x", "", auth.LevelRead},
		{"POST", mlflow + "runs/log-metric", `{"run_id":"` + run + `","key":"x","value":1,"timestamp":1}`, auth.LevelEdit},
		{"POST", mlflow + "runs/log-batch", `{"run_id":"` + run + `","params":[{"key":"p","value":"1"}]}`, auth.LevelEdit},
		{"POST", mlflow + "runs/create", `{"experiment_id":"` + exp + `"}`, auth.LevelEdit},
		{"POST", mlflow + "experiments/set-experiment-tag", `{"experiment_id":"` + exp + `","key":"k","value":"v"}`, auth.LevelEdit},
		{"GET", mlflow + "registered-models/get?name=m", "", auth.LevelRead},
		{"POST", mlflow + "registered-models/set-tag", `{"name":"m","key":"k","value":"v"}`, auth.LevelEdit},
		{"PATCH", mlflow + "registered-models/update", `{"name":"m","description":"d"}`, auth.LevelEdit},
		{"GET", "/api/v1/permissions?kind=experiment&object=" + exp, "", auth.LevelManage},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts?path=" + exp, "", auth.LevelRead},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/" + exp + "/" + run + "/artifacts/x.txt", "hi", auth.LevelEdit},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/" + exp + "/" + run + "/artifacts/x.txt", "", auth.LevelRead},
		{"GET", mlflow + "logged-models/" + lm, "", auth.LevelRead},
		{"PATCH", mlflow + "logged-models/" + lm + "/tags", `{"tags":[{"key":"k","value":"v"}]}`, auth.LevelEdit},
		{"GET", mlflow + "artifacts/list?run_id=" + run, "", auth.LevelRead},
		{"GET", "/api/v1/runs/" + run + "/metrics/x/history", "", auth.LevelRead},
		{"GET", "/api/v1/runs/" + run + "/metric-history?keys=x", "", auth.LevelRead},
		{"GET", "/api/v1/experiments/" + exp + "/keys", "", auth.LevelRead},
		{"GET", "/api/v1/experiments/" + exp + "/metric-summary?run_ids=" + run, "", auth.LevelRead},
		{"GET", "/api/v1/experiments/" + exp + "/groups?param=p&metrics=x", "", auth.LevelRead},
	}
	var table []string
	for _, rq := range requests {
		var answers []string
		for _, c := range callers {
			code, out := call(c, rq.method, rq.target, rq.body)
			answers = append(answers, fmt.Sprintf("%s=%d", c, code))
			allowed := level[c] >= rq.need
			if allowed == (code == http.StatusForbidden) {
				t.Errorf("%s %s as %s (%s, needs %s): %d %v", rq.method, rq.target, c, level[c], rq.need, code, out)
			}
			if code == http.StatusForbidden && out["error_code"] != "PERMISSION_DENIED" {
				t.Errorf("%s %s as %s: error_code %v", rq.method, rq.target, c, out["error_code"])
			}
		}
		table = append(table, fmt.Sprintf("%-6s %-70.70s %-7s %s", rq.method, rq.target, rq.need, strings.Join(answers, " ")))
	}
	t.Logf("object permissions (default NO_PERMISSIONS):\n%s", strings.Join(table, "\n"))

	// Searches list only what the caller may read, filtered before paging.
	for _, c := range callers {
		// b is newer than a: filtering after paging would leave the first page empty.
		_, out := call(c, "POST", mlflow+"experiments/search", `{"max_results":1}`)
		exps, _ := out["experiments"].([]any)
		_, mout := call(c, "GET", mlflow+"registered-models/search", "")
		models, _ := mout["registered_models"].([]any)
		_, rout := call(c, "POST", mlflow+"runs/search", `{"experiment_ids":["`+exp+`"]}`)
		runs, _ := rout["runs"].([]any)
		want := 0
		if level[c] >= auth.LevelRead {
			want = 1
		}
		if len(exps) != want || len(models) != want || len(runs) < want || (want == 0 && len(runs) != 0) {
			t.Errorf("%s: searches found %d experiments, %d models, %d runs; want %d", c, len(exps), len(models), len(runs), want)
		}
		if c != "admin" && want == 1 && exps[0].(map[string]any)["name"] != "a" {
			t.Errorf("%s: search found %v", c, exps[0])
		}
	}
	// A field the rule reads but the handler ignores, malformed, lets nothing past.
	if code, _ := call("stranger", "POST", mlflow+"registered-models/set-tag", `{"name":"m","key":"k","value":"v","run_id":{"x":1}}`); code == 200 {
		t.Errorf("a stranger set a tag past the check")
	}
	// Deleting and renaming need MANAGE.
	if code, _ := call("editor", "DELETE", mlflow+"registered-models/delete", `{"name":"m"}`); code != http.StatusForbidden {
		t.Errorf("an editor deleted the model: %d", code)
	}
	if code, _ := call("editor", "POST", "/api/v1/permissions", `{"kind":"registered_model","object":"m","user":"stranger","level":"MANAGE"}`); code != http.StatusForbidden {
		t.Errorf("an editor granted: %d", code)
	}
	if code, out := call("owner", "POST", mlflow+"registered-models/rename", `{"name":"m","new_name":"m2"}`); code != 200 {
		t.Fatalf("rename: %d %v", code, out)
	}
	if code, _ := call("reader", "GET", mlflow+"registered-models/get?name=m2", ""); code != 200 {
		t.Errorf("the reader's grant did not follow the rename: %d", code)
	}
}

// TestNativeObjectPermissions checks the native API's objects with the default
// permission NO_PERMISSIONS: datasets (the first version's registrant manages it, a
// stranger neither reads, lists nor adds versions), benchmarks (MANAGE on the model), and
// deployments (creating one needs READ on the model it serves).
func TestNativeObjectPermissions(t *testing.T) {
	srv, _ := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword, cfg.DefaultPermission = true, "perm-admin-password", "NO_PERMISSIONS"
	})
	createUsers(t, srv, "owner", "stranger", "editor")
	call := func(who, method, target, ctype, body string) (int, string) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = testHost
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		r.SetBasicAuth(who, who+"-password-long")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	const csv = "a,b\n1,2\n3,4\n"
	if code, body := call("owner", "POST", "/api/v1/datasets/d/versions?format=csv&file=d.csv", "text/csv", csv); code/100 != 2 {
		t.Fatalf("register: %d %s", code, body)
	}
	for _, tc := range []struct {
		who, method, target, ctype, body string
		want                             int
	}{
		{"owner", "GET", "/api/v1/datasets/d/versions", "", "", 200},
		{"stranger", "GET", "/api/v1/datasets/d/versions", "", "", 403},
		{"stranger", "GET", "/api/v1/datasets/d/versions/1/profile", "", "", 403},
		{"stranger", "POST", "/api/v1/datasets/d/versions?format=csv&file=d.csv", "text/csv", "a,b\n5,6\n", 403},
		{"stranger", "POST", "/api/v1/drift", "application/json", `{"reference":{"dataset":"d","version":"1"},"current":{"dataset":"d","version":"1"}}`, 403},
		{"stranger", "POST", "/api/v1/datasets/e/versions?format=csv&file=d.csv", "text/csv", csv, 201},
		{"stranger", "GET", "/api/v1/datasets/e/versions", "", "", 200},
	} {
		if code, body := call(tc.who, tc.method, tc.target, tc.ctype, tc.body); code != tc.want && !(tc.want == 201 && code == 200) {
			t.Errorf("%s %s as %s: %d %s, want %d", tc.method, tc.target, tc.who, code, body, tc.want)
		}
	}
	for who, want := range map[string]string{"owner": `"d"`, "stranger": `"e"`} {
		_, body := call(who, "GET", "/api/v1/datasets", "", "")
		if !strings.Contains(body, want) || strings.Count(body, `"version":`) != 1 {
			t.Errorf("datasets listed for %s: %s", who, body)
		}
	}

	const mlflow = "/api/2.0/mlflow/"
	if code, body := call("owner", "POST", mlflow+"registered-models/create", "application/json", `{"name":"m"}`); code != 200 {
		t.Fatalf("create model: %d %s", code, body)
	}
	if code, body := call("owner", "POST", "/api/v1/permissions", "application/json",
		`{"kind":"registered_model","object":"m","user":"editor","level":"EDIT"}`); code != 200 {
		t.Fatalf("grant: %d %s", code, body)
	}
	// A benchmark decides which aliases are protected: setting or deleting one needs MANAGE.
	for who, want := range map[string]int{"editor": 403, "stranger": 403, "owner": 400} {
		if code, body := call(who, "PUT", "/api/v1/models/m/benchmark", "application/json", `{}`); code != want {
			t.Errorf("set a benchmark as %s: %d %s, want %d", who, code, body, want)
		}
		if code, body := call(who, "DELETE", "/api/v1/models/m/benchmark", "application/json", `{}`); (code == 403) != (want == 403) {
			t.Errorf("delete the benchmark as %s: %d %s", who, code, body)
		}
	}
	// Moving a protected alias, or overriding its gate, needs MANAGE on the model.
	if code, body := call("owner", "POST", mlflow+"model-versions/create", "application/json", `{"name":"m","source":"mlflow-artifacts:/x"}`); code != 200 {
		t.Fatalf("create version: %d %s", code, body)
	}
	if code, body := call("owner", "PUT", "/api/v1/models/m/benchmark", "application/json",
		`{"dataset":"e/1","target":"b","spec":{"task":"classification"}}`); code != 403 {
		t.Errorf("a benchmark on a dataset the owner may not read: %d %s", code, body)
	}
	if code, body := call("owner", "PUT", "/api/v1/models/m/benchmark", "application/json",
		`{"dataset":"d/1","target":"b","spec":{"task":"classification"},"protected_aliases":["production"]}`); code != 200 {
		t.Fatalf("set a benchmark: %d %s", code, body)
	}
	for _, tc := range []struct {
		who, method, target, body string
		want                      int
	}{
		{"editor", "POST", mlflow + "registered-models/alias", `{"name":"m","alias":"staging","version":"1"}`, 200},
		{"editor", "POST", mlflow + "registered-models/alias", `{"name":"m","alias":"production","version":"1"}`, 403},
		{"owner", "POST", mlflow + "registered-models/alias", `{"name":"m","alias":"production","version":"1"}`, 409}, // to the gate
		{"editor", "PUT", "/api/v1/models/m/aliases/production", `{"version":"1","override":"hotfix"}`, 403},
		{"owner", "PUT", "/api/v1/models/m/aliases/production", `{"version":"1","override":"hotfix"}`, 200},
		{"editor", "DELETE", mlflow + "registered-models/alias", `{"name":"m","alias":"production"}`, 403},
	} {
		if code, body := call(tc.who, tc.method, tc.target, "application/json", tc.body); code != tc.want {
			t.Errorf("%s %s %s as %s: %d %s, want %d", tc.method, tc.target, tc.body, tc.who, code, body, tc.want)
		}
	}

	// Serving a model needs READ on it.
	spec := `{"name":"dep","model":"models:/m@prod"}`
	if code, body := call("stranger", "POST", "/api/v1/deployments", "application/json", spec); code != 403 {
		t.Errorf("a stranger deployed m: %d %s", code, body)
	}
	if code, body := call("editor", "POST", "/api/v1/deployments", "application/json", spec); code == 403 {
		t.Errorf("an editor of m may deploy it: %d %s", code, body)
	}
}

// TestInferencePolicy: a deployment's inference routes need READ on it until its
// owner makes it public; then they answer anyone, its management routes still need
// credentials and permissions, and only MANAGE may change the policy, which is audited.
func TestInferencePolicy(t *testing.T) {
	ctx := context.Background()
	srv, _ := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword, cfg.DefaultPermission = true, "perm-admin-password", "NO_PERMISSIONS"
	})
	createUsers(t, srv, "owner", "stranger", "editor")
	call := func(who, method, target, body string) (int, string) {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = testHost
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if who != "" {
			r.SetBasicAuth(who, who+"-password-long")
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	if code, body := call("owner", "POST", "/api/2.0/mlflow/registered-models/create", `{"name":"m"}`); code != 200 {
		t.Fatalf("create model: %d %s", code, body)
	}
	if code, body := call("owner", "POST", "/api/v1/deployments", `{"name":"dep","model":"models:/m@prod"}`); code != 200 {
		t.Fatalf("deploy: %d %s", code, body)
	}
	for _, g := range []string{`{"kind":"deployment","object":"dep","user":"editor","level":"EDIT"}`,
		`{"kind":"registered_model","object":"m","user":"editor","level":"READ"}`} {
		if code, body := call("owner", "POST", "/api/v1/permissions", g); code != 200 {
			t.Fatalf("grant: %d %s", code, body)
		}
	}
	// The model never loads: a request let through is answered 503, not 401 or 403.
	infer := []struct{ method, path, body string }{
		{"POST", "/v2/models/dep/infer", `{"inputs":[]}`},
		{"GET", "/v2/models/dep", ""},
		{"POST", "/deployments/dep/invocations", `{"inputs":[]}`},
		{"POST", "/v1/models/dep:predict", `{"instances":[]}`},
	}
	expect := func(stage string, want map[string]int) {
		t.Helper()
		for _, rq := range infer {
			for who, code := range want {
				if got, body := call(who, rq.method, rq.path, rq.body); (got == 401 || got == 403) != (code != 0) || code != 0 && got != code {
					t.Errorf("%s: %s %s as %q: %d %s; want %d (0: let through)", stage, rq.method, rq.path, who, got, body, code)
				}
			}
		}
	}
	expect("authenticated", map[string]int{"": 401, "stranger": 403, "owner": 0, "editor": 0})

	public := `{"name":"dep","model":"models:/m@prod","inference":"public"}`
	if code, body := call("editor", "PUT", "/api/v1/deployments/dep", public); code != 403 {
		t.Errorf("an editor made the deployment public: %d %s", code, body)
	}
	if code, body := call("editor", "PUT", "/api/v1/deployments/dep", `{"name":"dep","model":"models:/m@prod","workers":1}`); code != 200 {
		t.Errorf("an editor changed the deployment, not its policy: %d %s", code, body)
	}
	if code, body := call("owner", "PUT", "/api/v1/deployments/dep", public); code != 200 || !strings.Contains(body, `"inference":"public"`) {
		t.Fatalf("the owner made it public: %d %s", code, body)
	}
	expect("public", map[string]int{"": 0, "stranger": 0, "owner": 0})
	if stored, err := serving.NewSQLStore(srv.db).ListDeployments(ctx); err != nil || len(stored) != 1 || !stored[0].Public() {
		t.Errorf("the policy was not stored, so a restart would lose it: %+v %v", stored, err)
	}
	for who, want := range map[string]int{"": 401, "stranger": 403} {
		for _, p := range []string{"/api/v1/deployments/dep", "/api/v1/deployments/dep/payloads", "/api/v1/deployments/dep/stats"} {
			if code, body := call(who, "GET", p, ""); code != want {
				t.Errorf("GET %s of a public deployment as %q: %d %s; want %d", p, who, code, body, want)
			}
		}
	}
	if code, body := call("editor", "PUT", "/api/v1/deployments/dep", `{"name":"dep","model":"models:/m@prod"}`); code != 403 {
		t.Errorf("an editor made the deployment private again: %d %s", code, body)
	}
	if code, body := call("owner", "PUT", "/api/v1/deployments/dep", `{"name":"dep","model":"models:/m@prod","inference":"authenticated"}`); code != 200 {
		t.Fatalf("back to authenticated: %d %s", code, body)
	}
	expect("authenticated again", map[string]int{"": 401, "stranger": 403})
	if code, body := call("owner", "PUT", "/api/v1/deployments/dep", `{"name":"dep","model":"models:/m@prod","inference":"everyone"}`); code != 400 {
		t.Errorf("an unknown policy: %d %s", code, body)
	}

	p, err := srv.audit.Query(ctx, audit.Filter{Object: "dep", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, e := range p.Entries {
		if strings.Contains(e.Action, "inference") {
			changes = append(changes, e.Actor+" "+e.Action+" "+e.Outcome)
		}
	}
	want := []string{"owner PUT deployments/{name} (inference: authenticated) succeeded",
		"owner PUT deployments/{name} (inference: public) succeeded"}
	if strings.Join(changes, "|") != strings.Join(want, "|") {
		t.Errorf("policy changes recorded: %q; want %q", changes, want)
	}
}
