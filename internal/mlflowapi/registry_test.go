package mlflowapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"
)

// createModel creates a registered model through the API and returns it.
func (s *testServer) createModel(t testing.TB, name string, tags ...map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"name": name}
	if tags != nil {
		body["tags"] = tags
	}
	return s.do(t, "POST", api+"registered-models/create", body).ok(t)["registered_model"].(map[string]any)
}

// createVersion registers a version of model name from a run and returns it.
func (s *testServer) createVersion(t testing.TB, name, runID string) map[string]any {
	t.Helper()
	body := map[string]any{"name": name, "source": "mlflow-artifacts:/0/" + runID + "/artifacts/model", "run_id": runID}
	return s.do(t, "POST", api+"model-versions/create", body).ok(t)["model_version"].(map[string]any)
}

// keys returns the sorted keys of a JSON object.
func keys(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestRegistryBothPrefixes(t *testing.T) {
	s := newServer(t, nil)
	for i, prefix := range []string{api, ajax} {
		name := []string{"rest", "ui"}[i]
		s.do(t, "POST", prefix+"registered-models/create", map[string]any{"name": name}).ok(t)
		got := s.do(t, "GET", prefix+"registered-models/get?name="+name, nil).ok(t)
		if dig(got, "registered_model", "name") != name {
			t.Errorf("%s registered-models/get = %v", prefix, got)
		}
		r := s.do(t, "GET", prefix+"model-versions/create", nil)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
			t.Errorf("GET %smodel-versions/create: status %d, Allow %q", prefix, r.status, r.header.Get("Allow"))
		}
	}
}

func TestRegisteredModelWire(t *testing.T) {
	s := newServer(t, nil)
	_, runID := s.createRun(t, "wire")
	created := s.do(t, "POST", api+"registered-models/create", map[string]any{"name": "fraud", "description": "finds fraud",
		"tags": []map[string]any{{"key": "mlship.owner", "value": "risk"}, {"key": "mlship.contact", "value": "#risk"}}}).ok(t)
	if got := keys(created["registered_model"]); !slices.Equal(got, []string{"creation_timestamp", "description", "last_updated_timestamp", "name", "tags"}) {
		t.Errorf("new registered_model keys = %v: %v", got, created)
	}
	s.do(t, "POST", api+"registered-models/create", map[string]any{"name": "fraud"}).wantError(t, 400, "RESOURCE_ALREADY_EXISTS")
	s.do(t, "POST", api+"registered-models/create", map[string]any{}).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "GET", api+"registered-models/get?name=nope", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")

	v := s.createVersion(t, "fraud", runID)
	s.do(t, "POST", api+"registered-models/alias", map[string]any{"name": "fraud", "alias": "champion", "version": "1"}).ok(t)
	m := s.do(t, "GET", api+"registered-models/get?name=fraud", nil).ok(t)["registered_model"]
	if got := keys(m); !slices.Equal(got, []string{"aliases", "creation_timestamp", "description", "last_updated_timestamp", "latest_versions", "name", "tags"}) {
		t.Errorf("registered_model keys = %v", got)
	}
	if a := dig(m, "aliases", 0); dig(a, "alias") != "champion" || dig(a, "version") != "1" || len(keys(a)) != 2 {
		t.Errorf("aliases = %v", dig(m, "aliases"))
	}
	if lv := dig(m, "latest_versions", 0); dig(lv, "version") != "1" || dig(lv, "current_stage") != "None" {
		t.Errorf("latest_versions = %v", dig(m, "latest_versions"))
	}
	if v["version"] != "1" {
		t.Errorf("created version = %v", v)
	}

	upd := s.do(t, "PATCH", api+"registered-models/update", map[string]any{"name": "fraud", "description": "new"}).ok(t)
	if dig(upd, "registered_model", "description") != "new" {
		t.Errorf("update = %v", upd)
	}
	s.do(t, "POST", api+"registered-models/set-tag", map[string]any{"name": "fraud", "key": "stage", "value": "beta"}).ok(t)
	s.do(t, "DELETE", api+"registered-models/delete-tag", map[string]any{"name": "fraud", "key": "mlship.contact"}).ok(t)
	tags := dig(s.do(t, "GET", api+"registered-models/get?name=fraud", nil).ok(t), "registered_model", "tags").([]any)
	if len(tags) != 2 || dig(tags, 0, "key") != "mlship.owner" || dig(tags, 1, "key") != "stage" {
		t.Errorf("tags = %v", tags)
	}

	ren := s.do(t, "POST", api+"registered-models/rename", map[string]any{"name": "fraud", "new_name": "fraud-v2"}).ok(t)
	if dig(ren, "registered_model", "name") != "fraud-v2" || dig(ren, "registered_model", "latest_versions", 0, "name") != "fraud-v2" {
		t.Errorf("rename = %v", ren)
	}
	got := s.do(t, "GET", api+"registered-models/alias?name=fraud-v2&alias=champion", nil).ok(t)
	if dig(got, "model_version", "name") != "fraud-v2" || dig(got, "model_version", "version") != "1" {
		t.Errorf("alias after rename = %v", got)
	}
	s.do(t, "DELETE", api+"registered-models/delete", map[string]any{"name": "fraud-v2"}).ok(t)
	s.do(t, "GET", api+"model-versions/get?name=fraud-v2&version=1", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "DELETE", api+"registered-models/delete", map[string]any{"name": "fraud-v2"}).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
}

func TestAliasWire(t *testing.T) {
	s := newServer(t, nil)
	_, runID := s.createRun(t, "aliases")
	s.createModel(t, "m")
	s.createVersion(t, "m", runID)
	s.createVersion(t, "m", runID)
	s.do(t, "POST", api+"registered-models/alias", map[string]any{"name": "m", "alias": "champion", "version": 2}).ok(t)
	v := s.do(t, "GET", api+"registered-models/alias?name=m&alias=champion", nil).ok(t)["model_version"]
	if al, _ := dig(v, "aliases").([]any); dig(v, "version") != "2" || len(al) != 1 || al[0] != "champion" {
		t.Errorf("champion = %v", v)
	}
	for _, latest := range []string{"latest", "LATEST"} {
		got := s.do(t, "GET", api+"registered-models/alias?name=m&alias="+latest, nil).ok(t)
		if dig(got, "model_version", "version") != "2" {
			t.Errorf("%s = %v", latest, got)
		}
	}
	s.do(t, "GET", api+"registered-models/alias?name=m&alias=unknown", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "GET", api+"registered-models/alias?name=nope&alias=champion", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	for _, bad := range []string{"latest", "v1", "V2", "has space", ""} {
		s.do(t, "POST", api+"registered-models/alias", map[string]any{"name": "m", "alias": bad, "version": "1"}).
			wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}
	s.do(t, "POST", api+"registered-models/alias", map[string]any{"name": "m", "alias": "x", "version": "9"}).
		wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "DELETE", api+"registered-models/alias", map[string]any{"name": "m", "alias": "champion"}).ok(t)
	s.do(t, "GET", api+"registered-models/alias?name=m&alias=champion", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
}

func TestLatestVersionsWire(t *testing.T) {
	s := newServer(t, nil)
	_, runID := s.createRun(t, "stages")
	s.createModel(t, "m")
	for range 3 {
		s.createVersion(t, "m", runID)
	}
	mv := s.do(t, "POST", api+"model-versions/transition-stage", map[string]any{"name": "m", "version": "1",
		"stage": "production", "archive_existing_versions": false}).ok(t)["model_version"]
	if dig(mv, "current_stage") != "Production" {
		t.Errorf("transition = %v", mv)
	}
	s.do(t, "POST", api+"model-versions/transition-stage", map[string]any{"name": "m", "version": "2",
		"stage": "Production", "archive_existing_versions": true}).ok(t)
	s.do(t, "POST", api+"model-versions/transition-stage", map[string]any{"name": "m", "version": "3",
		"stage": "None", "archive_existing_versions": true}).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", api+"model-versions/transition-stage", map[string]any{"name": "m", "version": "3",
		"stage": "Deployed"}).wantError(t, 400, "INVALID_PARAMETER_VALUE")

	stagesOf := func(r reply) map[string]string {
		out := map[string]string{}
		for _, v := range r.ok(t)["model_versions"].([]any) {
			out[dig(v, "version").(string)] = dig(v, "current_stage").(string)
		}
		return out
	}
	all := stagesOf(s.do(t, "POST", api+"registered-models/get-latest-versions", map[string]any{"name": "m"}))
	if want := map[string]string{"1": "Archived", "2": "Production", "3": "None"}; !mapsEqual(all, want) {
		t.Errorf("latest versions = %v, want %v", all, want)
	}
	prod := stagesOf(s.do(t, "GET", api+"registered-models/get-latest-versions?name=m&stages=PRODUCTION&stages=staging", nil))
	if want := map[string]string{"2": "Production"}; !mapsEqual(prod, want) {
		t.Errorf("latest production and staging = %v", prod)
	}
	none := s.do(t, "POST", api+"registered-models/get-latest-versions", map[string]any{"name": "m", "stages": []string{"Staging"}}).ok(t)
	if len(none) != 0 {
		t.Errorf("latest staging = %v, want {}", none)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSearchRegisteredModelsWire(t *testing.T) {
	s := newServer(t, nil)
	for _, n := range []string{"b-model", "a-model", "c-model"} {
		s.createModel(t, n, map[string]any{"key": "team", "value": "x"})
	}
	s.createModel(t, "a-prompt", map[string]any{"key": "mlflow.prompt.is_prompt", "value": "true"})
	names := func(r reply) []string {
		var out []string
		for _, m := range r.ok(t)["registered_models"].([]any) {
			out = append(out, dig(m, "name").(string))
		}
		return out
	}
	// The filter MLflow's client sends.
	filter := url.QueryEscape("name LIKE 'a-%' AND tag.`mlflow.prompt.is_prompt` != 'true'")
	if got := names(s.do(t, "GET", api+"registered-models/search?filter="+filter+"&max_results=100", nil)); !slices.Equal(got, []string{"a-model"}) {
		t.Errorf("client filter = %v", got)
	}
	page := s.do(t, "GET", api+"registered-models/search?max_results=2&order_by=name+DESC", nil)
	token := page.ok(t)["next_page_token"].(string)
	rest := s.do(t, "GET", api+"registered-models/search?max_results=2&order_by=name+DESC&page_token="+url.QueryEscape(token), nil)
	if got := append(names(page), names(rest)...); !slices.Equal(got, []string{"c-model", "b-model", "a-model"}) || rest.ok(t)["next_page_token"] != nil {
		t.Errorf("pages = %v", got)
	}
	if got := s.do(t, "GET", api+"registered-models/search?filter="+url.QueryEscape("name = 'none'"), nil).ok(t); len(got) != 0 {
		t.Errorf("empty search = %v, want {}", got)
	}
	for _, q := range []string{"max_results=1001", "max_results=0", "filter=" + url.QueryEscape("name =="),
		"order_by=creation_timestamp", "page_token=bad"} {
		s.do(t, "GET", api+"registered-models/search?"+q, nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}
}
