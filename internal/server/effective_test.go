package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/config"
)

type effectiveAnswer struct {
	Auth    bool            `json:"auth"`
	Admin   bool            `json:"admin"`
	Scopes  []string        `json:"scopes"`
	Create  map[string]bool `json:"create"`
	Objects map[string]struct {
		Permission string          `json:"permission"`
		Can        map[string]bool `json:"can"`
	} `json:"objects"`
}

// effectiveCaller sends requests as a user (password "<name>-password-long"), the
// administrator, a Bearer token ("token:SECRET") or nobody ("").
func effectiveCaller(t *testing.T, srv *Server, adminPassword string) func(who, method, target, body string) (int, []byte) {
	return func(who, method, target, body string) (int, []byte) {
		t.Helper()
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Host = testHost
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		switch {
		case strings.HasPrefix(who, "token:"):
			r.Header.Set("Authorization", "Bearer "+strings.TrimPrefix(who, "token:"))
		case who == "admin":
			r.SetBasicAuth(who, adminPassword)
		case who != "":
			r.SetBasicAuth(who, who+"-password-long")
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
}

// TestEffectivePermissions asks GET /api/v1/permissions/effective as callers holding no
// grant, READ, EDIT (their own or a team's), MANAGE (the creator), an administrator and
// tokens of fewer scopes: each answer is the level the request checks would apply, and
// the actions it allows with the credential's scopes.
func TestEffectivePermissions(t *testing.T) {
	const adminPassword = "effective-admin-password"
	srv, _ := newTestServer(t, func(cfg *config.Server) {
		cfg.Auth, cfg.AdminPassword, cfg.DefaultPermission = true, adminPassword, "NO_PERMISSIONS"
	})
	createUsers(t, srv, "owner", "reader", "editor", "member", "outsider")
	call := effectiveCaller(t, srv, adminPassword)
	must := func(who, method, target, body string) map[string]any {
		t.Helper()
		code, out := call(who, method, target, body)
		if code/100 != 2 {
			t.Fatalf("%s %s as %s: %d %s", method, target, who, code, out)
		}
		var v map[string]any
		json.Unmarshal(out, &v)
		return v
	}
	const mlflow = "/api/2.0/mlflow/"
	exp := must("owner", "POST", mlflow+"experiments/create", `{"name":"a"}`)["experiment_id"].(string)
	other := must("outsider", "POST", mlflow+"experiments/create", `{"name":"b"}`)["experiment_id"].(string)
	must("owner", "POST", mlflow+"registered-models/create", `{"name":"m"}`)
	must("admin", "POST", "/api/v1/teams", `{"name":"ds"}`)
	must("admin", "POST", "/api/v1/teams", `{"name":"others"}`)
	must("admin", "PUT", "/api/v1/teams/ds/members/member", `{}`)
	must("admin", "PUT", "/api/v1/teams/others/members/outsider", `{}`)
	for _, g := range []string{
		`{"kind":"experiment","object":"` + exp + `","user":"reader","level":"READ"}`,
		`{"kind":"experiment","object":"` + exp + `","user":"editor","level":"EDIT"}`,
		`{"kind":"experiment","object":"` + exp + `","team":"ds","level":"EDIT"}`,
		`{"kind":"registered_model","object":"m","user":"reader","level":"READ"}`,
		`{"kind":"registered_model","object":"m","user":"editor","level":"EDIT"}`,
	} {
		must("owner", "POST", "/api/v1/permissions", g)
	}
	must("admin", "POST", "/api/v1/permissions", `{"kind":"deployment","object":"*","user":"editor","level":"EDIT"}`)
	readToken := must("owner", "POST", "/api/v1/tokens", `{"name":"ro","scopes":"read"}`)["token"].(string)
	writeToken := must("editor", "POST", "/api/v1/tokens", `{"name":"rw","scopes":"read,write"}`)["token"].(string)

	ask := func(who, kind string, objects ...string) effectiveAnswer {
		t.Helper()
		q := url.Values{"kind": {kind}, "object": objects}
		code, out := call(who, "GET", "/api/v1/permissions/effective?"+q.Encode(), "")
		if code != http.StatusOK {
			t.Fatalf("effective %s %v as %s: %d %s", kind, objects, who, code, out)
		}
		var a effectiveAnswer
		if err := json.Unmarshal(out, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		name, who, kind, object, permission string
		can                                 string // the allowed actions among read, use, edit, manage
		create                              string // the kinds it may create
	}{
		{"no grant", "reader", "experiment", other, "NO_PERMISSIONS", "", "experiment registered_model dataset deployment"},
		{"reader", "reader", "experiment", exp, "READ", "read", "experiment registered_model dataset deployment"},
		{"reader of a model", "reader", "registered_model", "m", "READ", "read", "experiment registered_model dataset deployment"},
		{"editor", "editor", "experiment", exp, "EDIT", "read use edit", "experiment registered_model dataset deployment"},
		{"editor of a model", "editor", "registered_model", "m", "EDIT", "read use edit", "experiment registered_model dataset deployment"},
		{"team member", "member", "experiment", exp, "EDIT", "read use edit", "experiment registered_model dataset deployment"},
		{"other team", "outsider", "experiment", exp, "NO_PERMISSIONS", "", "experiment registered_model dataset deployment"},
		{"creator of its own", "outsider", "experiment", other, "MANAGE", "read use edit manage", "experiment registered_model dataset deployment"},
		{"manager", "owner", "experiment", exp, "MANAGE", "read use edit manage", "experiment registered_model dataset deployment"},
		{"manager of a model", "owner", "registered_model", "m", "MANAGE", "read use edit manage", "experiment registered_model dataset deployment"},
		{"admin", "admin", "experiment", exp, "MANAGE", "read use edit manage", "experiment registered_model dataset deployment"},
		{"every deployment", "editor", "deployment", "any", "EDIT", "read use edit", "experiment registered_model dataset deployment"},
		{"read-scoped token of a manager", "token:" + readToken, "experiment", exp, "MANAGE", "read use", ""},
		{"token without deploy", "token:" + writeToken, "deployment", "any", "EDIT", "read use", "experiment registered_model dataset"},
		{"token with write", "token:" + writeToken, "experiment", exp, "EDIT", "read use edit", "experiment registered_model dataset"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := ask(tc.who, tc.kind, tc.object)
			if !a.Auth || a.Admin != (tc.who == "admin") {
				t.Errorf("auth %v admin %v", a.Auth, a.Admin)
			}
			o, ok := a.Objects[tc.object]
			if !ok || o.Permission != tc.permission {
				t.Errorf("permission %q, want %q (%+v)", o.Permission, tc.permission, a)
			}
			if got := allowed(o.Can, "read", "use", "edit", "manage"); got != tc.can {
				t.Errorf("can %q, want %q", got, tc.can)
			}
			if got := allowed(a.Create, "experiment", "registered_model", "dataset", "deployment"); got != tc.create {
				t.Errorf("create %q, want %q", got, tc.create)
			}
		})
	}

	t.Run("several objects in one request", func(t *testing.T) {
		a := ask("reader", "experiment", exp, other)
		if len(a.Objects) != 2 || a.Objects[exp].Permission != "READ" || a.Objects[other].Permission != "NO_PERMISSIONS" {
			t.Errorf("%+v", a.Objects)
		}
	})
	t.Run("refused questions", func(t *testing.T) {
		many := url.Values{"kind": {"experiment"}}
		for range 501 {
			many.Add("object", "1")
		}
		for _, rq := range []struct {
			who, query string
			code       int
		}{
			{"", "kind=experiment&object=" + exp, http.StatusUnauthorized},
			{"reader", "kind=run&object=x", http.StatusBadRequest},
			{"reader", "object=x", http.StatusBadRequest},
			{"reader", many.Encode(), http.StatusBadRequest},
		} {
			if code, out := call(rq.who, "GET", "/api/v1/permissions/effective?"+rq.query, ""); code != rq.code {
				t.Errorf("%q as %q: %d %s, want %d", rq.query[:min(len(rq.query), 40)], rq.who, code, out, rq.code)
			}
		}
	})
	// What the answer allows, the request does: the reader is refused the rename.
	if code, _ := call("reader", "POST", mlflow+"experiments/update", `{"experiment_id":"`+exp+`","new_name":"c"}`); code != http.StatusForbidden {
		t.Errorf("a reader renamed the experiment: %d", code)
	}
	if code, _ := call("token:"+readToken, "POST", mlflow+"experiments/update", `{"experiment_id":"`+exp+`","new_name":"c"}`); code != http.StatusForbidden {
		t.Errorf("a read-scoped token renamed the experiment: %d", code)
	}
}

// TestEffectivePermissionsWithoutIdentities: with identities off everything is allowed.
func TestEffectivePermissionsWithoutIdentities(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	code, out := effectiveCaller(t, srv, "")("", "GET", "/api/v1/permissions/effective?kind=deployment&object=d", "")
	var a effectiveAnswer
	if err := json.Unmarshal(out, &a); code != http.StatusOK || err != nil {
		t.Fatalf("%d %s", code, out)
	}
	if a.Auth || !a.Admin || a.Objects["d"].Permission != "MANAGE" || allowed(a.Objects["d"].Can, "read", "use", "edit", "manage") != "read use edit manage" ||
		allowed(a.Create, "experiment", "registered_model", "dataset", "deployment") != "experiment registered_model dataset deployment" {
		t.Errorf("%+v", a)
	}
}

func allowed(m map[string]bool, names ...string) string {
	var out []string
	for _, n := range names {
		if m[n] {
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}
