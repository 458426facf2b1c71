// Package mlflowauth answers the REST API of MLflow's basic-auth app over mlship's
// identities, so that mlflow.server.get_app_client("basic-auth") manages mlship's users,
// their permissions and their roles (mlship's teams) unchanged, and MLflow 3's
// workspaces as far as mlship has them (the default one). It owns that app's wire rules: its
// paths, its request parameters, its answers and error codes. Every rule about users
// lives in internal/auth.
package mlflowauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/auth"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/httpx"
)

// API is MLflow's basic-auth REST API.
type API struct {
	auth    *auth.Service
	logger  *slog.Logger
	maxBody int64
}

// New returns the API over the identity service; request bodies are capped at maxBody
// bytes.
func New(a *auth.Service, logger *slog.Logger, maxBody int64) *API {
	if maxBody <= 0 {
		maxBody = 1 << 20
	}
	return &API{auth: a, logger: logger, maxBody: maxBody}
}

type route struct {
	method, version, path string
	fn                    httpx.HandlerFunc
	access                httpx.Access
}

// routes are the app's endpoints, as its client (mlflow.server.auth.client) calls them.
// Routes open to any signed-in user check in the handler that the user acts on
// itself, as MLflow's app does, unless an administrator calls.
func (a *API) routes() []route {
	return []route{
		{"POST", "2.0", "users/create", a.createUser, httpx.Admin},
		{"GET", "2.0", "users/get", a.getUser, httpx.Read},
		{"GET", "2.0", "users/list", a.listUsers, httpx.Admin},
		{"GET", "2.0", "users/current", a.currentUser, httpx.Signed},
		{"PATCH", "2.0", "users/update-password", a.updatePassword, httpx.Write},
		{"PATCH", "2.0", "users/update-admin", a.updateAdmin, httpx.Admin},
		{"DELETE", "2.0", "users/delete", a.deleteUser, httpx.Admin},

		// Grants on one object; changing them needs MANAGE on it, which internal/auth checks.
		{"POST", "3.0", "users/permissions/grant", a.grantUserPermission, httpx.Write},
		{"POST", "3.0", "users/permissions/revoke", a.revokeUserPermission, httpx.Write},
		{"GET", "3.0", "users/permissions/get", a.getUserPermission, httpx.Read},
		{"GET", "3.0", "users/permissions/list", a.listUserPermissions, httpx.Read},
		{"GET", "3.0", "users/current/permissions", a.listCurrentUserPermissions, httpx.Signed},

		// Roles are teams (roles.go). Changing them is for administrators, as in
		// MLflow's app without workspace administrators; viewing them is also for a user
		// holding a role, and a user lists its own roles; the handlers check those.
		{"POST", "3.0", "roles/create", a.createRole, httpx.Admin},
		{"GET", "3.0", "roles/get", a.getRole, httpx.Read},
		{"GET", "3.0", "roles/list", a.listRoles, httpx.Read},
		{"PATCH", "3.0", "roles/update", a.updateRole, httpx.Admin},
		{"DELETE", "3.0", "roles/delete", a.deleteRole, httpx.Admin},
		{"POST", "3.0", "roles/permissions/add", a.addRolePermission, httpx.Admin},
		{"DELETE", "3.0", "roles/permissions/remove", a.removeRolePermission, httpx.Admin},
		{"GET", "3.0", "roles/permissions/list", a.listRolePermissions, httpx.Read},
		{"PATCH", "3.0", "roles/permissions/update", a.updateRolePermission, httpx.Admin},
		{"POST", "3.0", "roles/assign", a.assignRole, httpx.Admin},
		{"DELETE", "3.0", "roles/unassign", a.unassignRole, httpx.Admin},
		{"GET", "3.0", "users/roles/list", a.listUserRoles, httpx.Read},
		{"GET", "3.0", "roles/users/list", a.listRoleUsers, httpx.Admin},

		// The one workspace (workspace.go).
		{"GET", "3.0", "workspaces", a.listWorkspaces, httpx.Read},
		{"GET", "3.0", "workspaces/{name}", a.getWorkspace, httpx.Read},
	}
}

// MLflow's app reads PATCH and DELETE bodies sent with no Content-Type; anything but
// JSON is refused as its REST API refuses it.
var (
	jsonBody       = httpx.JSON.RefusedWith(http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	jsonOrNoneBody = httpx.Accepts("application/json", "").RefusedWith(http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
)

// Register adds the app's routes to rt, under the REST prefix its client calls and the
// ajax prefix MLflow's web UI calls.
func (a *API) Register(rt *httpx.Router) {
	for _, r := range a.routes() {
		body := jsonBody
		if r.method == http.MethodPatch || r.method == http.MethodDelete {
			body = jsonOrNoneBody
		}
		h := httpx.LimitBody(a.maxBody, httpx.Handle(a.logger, r.fn))
		for _, prefix := range []string{"/api/", "/ajax-api/"} {
			rt.Handle(httpx.Route{Method: r.method, Path: prefix + r.version + "/mlflow/" + r.path,
				Body: body, Access: r.access, Handler: h})
		}
	}
	// MLflow 3's paths no route answers get MLflow's answer.
	for _, prefix := range []string{"/api/3.0/mlflow/", "/ajax-api/3.0/mlflow/"} {
		rt.Fallback(prefix, httpx.Handle(a.logger, a.endpointNotFound))
	}
}

// endpointNotFound answers a path no route matched: 405 when the path exists with
// another method, 404 ENDPOINT_NOT_FOUND otherwise.
func (a *API) endpointNotFound(w http.ResponseWriter, r *http.Request) (any, error) {
	for _, rt := range a.routes() {
		if strings.HasSuffix(r.URL.Path, "/"+rt.version+"/mlflow/"+rt.path) {
			w.Header().Set("Allow", rt.method)
			return nil, &httpx.CodedError{Code: "BAD_REQUEST", Status: http.StatusMethodNotAllowed,
				Err: fault.Invalidf("Method %s is not allowed on %s; use %s", r.Method, r.URL.Path, rt.method)}
		}
	}
	return nil, &httpx.CodedError{Code: "ENDPOINT_NOT_FOUND",
		Err: fault.NotFoundf("No API endpoint %s %s", r.Method, r.URL.Path)}
}

// params are a request's parameters as MLflow's app reads them: the query string of a
// GET (and of a DELETE without a JSON body), the JSON object of a body otherwise. A body
// that is not an object holds no parameters.
type params map[string]json.RawMessage

func readParams(r *http.Request) (params, error) {
	p := params{}
	if r.Method == http.MethodGet || (r.Method == http.MethodDelete && r.ContentLength == 0) {
		for k, v := range r.URL.Query() {
			b, _ := json.Marshal(v[0])
			p[k] = b
		}
		return p, nil
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, err
		}
		return nil, fault.Wrap(fault.Invalid, err, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(body, &p); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fault.Invalidf("the request body is not valid JSON: %v", err)
		}
		return params{}, nil
	}
	return p, nil
}

// str returns a required string parameter.
func (p params) str(name string) (string, error) {
	raw, ok := p[name]
	if !ok || string(raw) == "null" {
		return "", fault.Missing(name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fault.Invalidf("parameter '%s' must be a string", name)
	}
	return s, nil
}

// optStr returns a string parameter and whether it was given.
func (p params) optStr(name string) (string, bool, error) {
	if raw, ok := p[name]; !ok || string(raw) == "null" {
		return "", false, nil
	}
	s, err := p.str(name)
	return s, err == nil, err
}

// boolean returns a required boolean parameter; a query string's "true" and "false"
// count.
func (p params) boolean(name string) (bool, error) {
	raw, ok := p[name]
	if !ok || string(raw) == "null" {
		return false, fault.Missing(name)
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, fault.Invalidf("parameter '%s' must be true or false", name)
}

// errForbidden is the app's answer to a user acting on another.
var errForbidden = fault.New(fault.PermissionDenied, "Permission denied")

// isAdmin reports whether the caller acts as an administrator: with identities off,
// every caller does.
func isAdmin(id *auth.Identity) bool { return id == nil || id.Scopes.Has(auth.Admin) }

// selfOrAdmin refuses a caller who is neither the named user nor an administrator.
func selfOrAdmin(id *auth.Identity, name string) error {
	if isAdmin(id) || id.Name == name {
		return nil
	}
	return errForbidden
}
