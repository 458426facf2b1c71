package mlflowauth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/httpx"
	"github.com/mlship/mlship/internal/store"
)

// newAPI serves the API over a fresh identity service, behind a sign-in with HTTP Basic
// that refuses a non-administrator an Admin route, as the server's access check does.
func newAPI(t *testing.T) (*httptest.Server, *auth.Service) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "auth.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := auth.New(db, logger, auth.Options{DefaultPermission: "NO_PERMISSIONS"})
	for _, u := range []auth.NewUser{{Name: "root", Password: "root-password-long", Admin: true},
		{Name: "ana", Password: "ana-password-long"}, {Name: "bob", Password: "bob-password-long"}} {
		if _, err := svc.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	rt := httpx.NewRouter(httpx.RouterOptions{Logger: logger, Wrap: func(route httpx.Route, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name, password, _ := r.BasicAuth()
			id, err := svc.SignIn(r.Context(), name, password, "127.0.0.1")
			if err == nil && route.Access == httpx.Admin && !id.Scopes.Has(auth.Admin) {
				err = errForbidden
			}
			if err != nil {
				httpx.WriteError(w, r, logger, err)
				return
			}
			h.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
		})
	}})
	New(svc, logger, 0).Register(rt)
	srv := httptest.NewServer(Workspaces(logger, rt))
	t.Cleanup(srv.Close)
	return srv, svc
}

type call struct {
	who, method, path string
	body              string // JSON for POST, PATCH and DELETE; a query string for GET
	workspace         string
	status            int
	want              string // in the answer
}

func (c call) do(t *testing.T, srv *httptest.Server) (int, string) {
	t.Helper()
	target, body := srv.URL+"/api/3.0/mlflow/"+c.path, io.Reader(nil)
	if c.method == "GET" {
		target += "?" + c.body
	} else {
		body = strings.NewReader(c.body)
	}
	req, _ := http.NewRequest(c.method, target, body)
	if c.method != "GET" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.workspace != "" {
		req.Header.Set(workspaceHeader, c.workspace)
	}
	req.SetBasicAuth(c.who, c.who+"-password-long")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRoles walks MLflow's role API as its client calls it: roles are teams, their
// permissions the teams' grants, their assignments the teams' members; changes are for
// administrators; bad input and unknown ids get MLflow's codes.
func TestRoles(t *testing.T) {
	srv, svc := newAPI(t)
	steps := []call{
		{"root", "POST", "roles/create", `{"name":"risk","workspace":"default","description":"risk team"}`, "", 200, `"role":{"id":1,"name":"risk","workspace":"default","description":"risk team","permissions":[]}`},
		{"root", "POST", "roles/create", `{"name":"ops","workspace":"default"}`, "", 200, `"description":null`},
		{"root", "POST", "roles/create", `{"name":"risk","workspace":"default"}`, "", 400, "RESOURCE_ALREADY_EXISTS"},
		{"root", "POST", "roles/create", `{"name":"x","workspace":"team-a"}`, "", 400, `workspace \"team-a\" is not supported`},
		{"root", "POST", "roles/create", `{"name":"x"}`, "", 400, "Workspace cannot be empty"},
		{"root", "POST", "roles/create", `{"name":"","workspace":"default"}`, "", 400, "Role name cannot be empty"},
		{"root", "POST", "roles/create", `{"name":"a b","workspace":"default"}`, "", 400, "invalid team name"},
		{"root", "POST", "roles/create", `{"name":"y","workspace":"default","description":5}`, "", 400, "Role description must be a string"},
		{"ana", "POST", "roles/create", `{"name":"mine","workspace":"default"}`, "", 403, "PERMISSION_DENIED"},
		{"root", "GET", "roles/get", "role_id=999", "", 404, `"error_code":"RESOURCE_DOES_NOT_EXIST","message":"Role with id=999 not found"`},
		{"root", "GET", "roles/get", "role_id=abc", "", 400, "Parameter 'role_id' must be an integer"},
		{"root", "GET", "roles/get", "", "", 400, "Missing value for required parameter 'role_id'"},

		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"7","permission":"READ"}`, "", 200,
			`"role_permission":{"id":1,"role_id":1,"resource_type":"experiment","resource_pattern":"7","permission":"READ"}`},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"7","permission":"EDIT"}`, "", 400, "RESOURCE_ALREADY_EXISTS"},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"registered_model","resource_pattern":"*","permission":"DENY"}`, "", 200, `"resource_pattern":"*","permission":"DENY"`},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"prompt","resource_pattern":"p","permission":"READ"}`, "", 400, "resource_type 'prompt' is not supported"},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"run","resource_pattern":"*","permission":"READ"}`, "", 400, "follows its experiment"},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"workspace","resource_pattern":"*","permission":"USE"}`, "", 400, "resource_type 'workspace' is not supported"},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"8","permission":"ALL"}`, "", 400, `unknown permission \"ALL\"`},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"8","permission":"NO_PERMISSIONS"}`, "", 400, "NO_PERMISSIONS cannot be granted"},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"","permission":"READ"}`, "", 400, "INVALID_PARAMETER_VALUE"},
		{"root", "POST", "roles/permissions/add", `{"role_id":42,"resource_type":"experiment","resource_pattern":"8","permission":"READ"}`, "", 404, "Role with id=42 not found"},
		{"ana", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"8","permission":"READ"}`, "", 403, "PERMISSION_DENIED"},
		{"root", "PATCH", "roles/permissions/update", `{"role_permission_id":1,"permission":"EDIT"}`, "", 200, `"id":1,"role_id":1,"resource_type":"experiment","resource_pattern":"7","permission":"EDIT"`},
		{"root", "PATCH", "roles/permissions/update", `{"role_permission_id":99,"permission":"EDIT"}`, "", 404, "Role permission with id=99 not found"},
		{"root", "PATCH", "roles/permissions/update", `{"role_permission_id":1,"permission":"bogus"}`, "", 400, "INVALID_PARAMETER_VALUE"},
		{"root", "DELETE", "roles/permissions/remove", `{"role_permission_id":99}`, "", 404, "Role permission with id=99 not found"},
		{"root", "GET", "roles/permissions/list", "role_id=1", "", 200, `"role_permissions":[{"id":1,`},

		{"root", "POST", "roles/assign", `{"username":"ana","role_id":1}`, "", 200, `"assignment":{"id":1,"user_id":2,"role_id":1}`},
		{"root", "POST", "roles/assign", `{"username":"ana","role_id":1}`, "", 400, "RESOURCE_ALREADY_EXISTS"},
		{"root", "POST", "roles/assign", `{"username":"nobody","role_id":1}`, "", 404, "RESOURCE_DOES_NOT_EXIST"},
		{"root", "POST", "roles/assign", `{"username":"ana","role_id":77}`, "", 404, "Role with id=77 not found"},
		{"root", "DELETE", "roles/unassign", `{"username":"bob","role_id":1}`, "", 404, "User role assignment (user_id=3, role_id=1) not found"},
		{"root", "GET", "roles/users/list", "role_id=1", "", 200, `{"assignments":[{"id":1,"user_id":2,"role_id":1}]}`},
		{"ana", "GET", "roles/users/list", "role_id=1", "", 403, "PERMISSION_DENIED"},

		// A user lists its own roles, and sees the roles of its workspace once it holds one.
		{"ana", "GET", "users/roles/list", "username=ana", "", 200, `{"roles":[{"id":1,"name":"risk"`},
		{"bob", "GET", "users/roles/list", "username=bob", "", 200, `{"roles":[]}`},
		{"bob", "GET", "users/roles/list", "username=ana", "", 403, "PERMISSION_DENIED"},
		{"ana", "GET", "roles/list", "workspace=default", "", 200, `"name":"ops"`},
		{"ana", "GET", "roles/list", "", "", 403, "PERMISSION_DENIED"},
		{"bob", "GET", "roles/list", "workspace=default", "", 403, "PERMISSION_DENIED"},
		{"bob", "GET", "roles/get", "role_id=1", "", 403, "PERMISSION_DENIED"},
		{"root", "GET", "roles/list", "workspace=other", "", 400, `workspace \"other\" is not supported`},
		{"root", "GET", "roles/list", "", "", 200, `"name":"risk"`},

		{"root", "PATCH", "roles/update", `{"role_id":2,"name":"risk"}`, "", 400, "RESOURCE_ALREADY_EXISTS"},
		{"root", "PATCH", "roles/update", `{"role_id":2}`, "", 400, "At least one of 'name' or 'description'"},
		{"root", "PATCH", "roles/update", `{"role_id":2,"name":"platform","description":"on call"}`, "", 200, `"name":"platform","workspace":"default","description":"on call"`},

		// The header: the default workspace, or a refusal naming the other.
		{"root", "GET", "roles/get", "role_id=1", "default", 200, `"name":"risk"`},
		{"root", "GET", "roles/get", "role_id=1", "risk", 400, `workspace \"risk\" is not supported`},
		{"root", "GET", "workspaces", "", "", 200, `{"workspaces":[{"name":"default"`},
		{"root", "GET", "workspaces/default", "", "", 200, `{"workspace":{"name":"default"`},
		{"root", "GET", "workspaces/other", "", "", 404, "RESOURCE_DOES_NOT_EXIST"},
		{"root", "POST", "workspaces", `{"name":"other"}`, "", 405, "use GET"},

		{"root", "DELETE", "roles/unassign", `{"username":"ana","role_id":1}`, "", 200, `{}`},
		{"root", "DELETE", "roles/delete", `{"role_id":1}`, "", 200, `{}`},
		{"root", "GET", "roles/get", "role_id=1", "", 404, "Role with id=1 not found"},
		{"root", "DELETE", "roles/delete", `{"role_id":1}`, "", 404, "Role with id=1 not found"},
	}
	for i, c := range steps {
		status, body := c.do(t, srv)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Fatalf("step %d: %s %s %s as %s: %d %s; want %d with %s", i, c.method, c.path, c.body, c.who, status, body, c.status, c.want)
		}
	}
	// The renamed role is the team, with the same members and grants.
	tm, err := svc.GetTeam(context.Background(), "platform")
	if err != nil || tm.ID != 2 {
		t.Errorf("team %+v %v", tm, err)
	}
}

// TestRolesGiveAccess: a role's permission is what its members may do, and DENY on the
// user wins over it, as the permission check a request meets sees it.
func TestRolesGiveAccess(t *testing.T) {
	srv, _ := newAPI(t)
	level := func() string {
		_, body := call{"root", "GET", "users/permissions/get", "username=ana&resource_type=experiment&resource_id=7", "", 0, ""}.do(t, srv)
		var out struct{ Permission string }
		json.Unmarshal([]byte(body), &out)
		return out.Permission
	}
	for _, c := range []call{
		{"root", "POST", "roles/create", `{"name":"risk","workspace":"default"}`, "", 200, ""},
		{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"7","permission":"READ"}`, "", 200, ""},
	} {
		if status, body := c.do(t, srv); status != c.status {
			t.Fatalf("%s: %d %s", c.path, status, body)
		}
	}
	for _, step := range []struct {
		c    call
		want string
	}{
		{call{"root", "POST", "roles/assign", `{"username":"ana","role_id":"1"}`, "", 200, ""}, "READ"},
		{call{"root", "POST", "roles/permissions/add", `{"role_id":1,"resource_type":"experiment","resource_pattern":"*","permission":"EDIT"}`, "", 200, ""}, "EDIT"},
		{call{"root", "POST", "users/permissions/grant", `{"username":"ana","resource_type":"experiment","resource_id":"7","permission":"DENY"}`, "", 200, ""}, "DENY"},
		{call{"root", "POST", "users/permissions/revoke", `{"username":"ana","resource_type":"experiment","resource_id":"7"}`, "", 200, ""}, "EDIT"},
		{call{"root", "DELETE", "roles/unassign", `{"username":"ana","role_id":1}`, "", 200, ""}, "NO_PERMISSIONS"},
	} {
		if status, body := step.c.do(t, srv); status != step.c.status {
			t.Fatalf("%s %s: %d %s", step.c.path, step.c.body, status, body)
		}
		if got := level(); got != step.want {
			t.Errorf("after %s %s: ana has %s, want %s", step.c.path, step.c.body, got, step.want)
		}
	}
	grant := call{"root", "POST", "users/permissions/grant", `{"username":"ana","resource_type":"experiment","resource_id":"7","permission":"NO_PERMISSIONS"}`, "", 0, ""}
	if status, body := grant.do(t, srv); status != 400 || !strings.Contains(body, "NO_PERMISSIONS cannot be granted") {
		t.Errorf("NO_PERMISSIONS granted: %d %s", status, body)
	}
}
