package mlflowapi_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/mlship/mlship/internal/config"
)

func TestModelVersionWire(t *testing.T) {
	s := newServer(t, nil)
	_, runID := s.createRun(t, "versions")
	s.createModel(t, "m")
	s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "nope", "source": "mlflow-artifacts:/0/x"}).
		wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "m"}).wantError(t, 400, "INVALID_PARAMETER_VALUE")

	created := s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "m",
		"source": "mlflow-artifacts:/0/" + runID + "/artifacts/model", "run_id": runID, "description": "first",
		"tags": []map[string]any{{"key": "quality", "value": "good"}}}).ok(t)["model_version"]
	want := []string{"creation_timestamp", "current_stage", "description", "last_updated_timestamp", "name", "run_id",
		"source", "status", "tags", "version"}
	if got := keys(created); !slices.Equal(got, want) {
		t.Errorf("model_version keys = %v, want %v", got, want)
	}
	if dig(created, "version") != "1" || dig(created, "status") != "READY" || dig(created, "current_stage") != "None" ||
		dig(created, "run_id") != runID || dig(created, "tags", 0, "key") != "quality" {
		t.Errorf("model_version = %v", created)
	}

	got := s.do(t, "GET", api+"model-versions/get?name=m&version=1", nil).ok(t)["model_version"]
	if dig(got, "source") != "mlflow-artifacts:/0/"+runID+"/artifacts/model" || dig(got, "description") != "first" {
		t.Errorf("model-versions/get = %v", got)
	}
	s.do(t, "GET", api+"model-versions/get?name=m&version=2", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "GET", api+"model-versions/get?name=m&version=x", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")

	upd := s.do(t, "PATCH", api+"model-versions/update", map[string]any{"name": "m", "version": "1", "description": "second"}).ok(t)
	if dig(upd, "model_version", "description") != "second" {
		t.Errorf("update = %v", upd)
	}
	uri := s.do(t, "GET", api+"model-versions/get-download-uri?name=m&version=1", nil).ok(t)
	if uri["artifact_uri"] != "mlflow-artifacts:/0/"+runID+"/artifacts/model" || len(uri) != 1 {
		t.Errorf("download URI = %v", uri)
	}
	s.do(t, "POST", api+"model-versions/set-tag", map[string]any{"name": "m", "version": "1", "key": "k", "value": "v"}).ok(t)
	s.do(t, "DELETE", api+"model-versions/delete-tag", map[string]any{"name": "m", "version": "1", "key": "quality"}).ok(t)
	tags := dig(s.do(t, "GET", api+"model-versions/get?name=m&version=1", nil).ok(t), "model_version", "tags").([]any)
	if len(tags) != 1 || dig(tags, 0, "key") != "k" {
		t.Errorf("tags = %v", tags)
	}

	s.do(t, "POST", api+"registered-models/alias", map[string]any{"name": "m", "alias": "champion", "version": "1"}).ok(t)
	s.do(t, "DELETE", api+"model-versions/delete", map[string]any{"name": "m", "version": "1"}).ok(t)
	s.do(t, "GET", api+"registered-models/alias?name=m&alias=champion", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "DELETE", api+"model-versions/delete", map[string]any{"name": "m", "version": "1"}).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	if v := s.createVersion(t, "m", runID); v["version"] != "2" {
		t.Errorf("version after a delete = %v, want 2", v["version"])
	}
}

func TestSearchModelVersionsWire(t *testing.T) {
	s := newServer(t, nil)
	_, run1 := s.createRun(t, "search-a")
	_, run2 := s.createRun(t, "search-b")
	s.createModel(t, "a")
	s.createModel(t, "b")
	s.createVersion(t, "a", run1)
	s.createVersion(t, "a", run2)
	s.createVersion(t, "b", run2)
	refs := func(r reply) []string {
		var out []string
		for _, v := range r.ok(t)["model_versions"].([]any) {
			out = append(out, dig(v, "name").(string)+"/"+dig(v, "version").(string))
		}
		return out
	}
	q := func(filter string, extra string) reply {
		return s.do(t, "GET", api+"model-versions/search?filter="+url.QueryEscape(filter)+extra, nil)
	}
	if got := refs(q("name = 'a'", "&max_results=10000")); !slices.Equal(got, []string{"a/2", "a/1"}) {
		t.Errorf("name = 'a': %v", got)
	}
	if got := refs(q("run_id = '"+run2+"'", "&order_by=name&order_by=version_number+ASC")); !slices.Equal(got, []string{"a/2", "b/1"}) {
		t.Errorf("by run: %v", got)
	}
	if got := refs(q("version_number >= 2", "")); !slices.Equal(got, []string{"a/2"}) {
		t.Errorf("by version: %v", got)
	}
	page := q("", "&max_results=2&order_by=name")
	token := page.ok(t)["next_page_token"].(string)
	rest := q("", "&max_results=2&order_by=name&page_token="+url.QueryEscape(token))
	if got := append(refs(page), refs(rest)...); !slices.Equal(got, []string{"a/2", "a/1", "b/1"}) {
		t.Errorf("pages = %v", got)
	}
	for _, extra := range []string{"&max_results=200001", "&max_results=0", "&order_by=stage"} {
		q("", extra).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	}
	q("stage = 'None'", "").wantError(t, 400, "INVALID_PARAMETER_VALUE")
}

func TestModelVersionSources(t *testing.T) {
	s := newServer(t, nil)
	s.createModel(t, "m")
	for _, src := range []string{
		"file:///etc/", "file://./etc", "//proc/self/root", "/etc/passwd",
		"mlflow-artifacts:/1/%2e%2e/x", "mlflow-artifacts:/1/%252e%252e/x", "http:///?/../",
		"mlflow-artifacts:/a#/../..", "http://attacker/api/2.0/mlflow-artifacts/artifacts/",
		"s3://bucket/model", "models:/m-00000000000000000000000000000000",
	} {
		t.Run(src, func(t *testing.T) {
			s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "m", "source": src}).
				wantError(t, 400, "INVALID_PARAMETER_VALUE")
		})
	}
	// A prompt's tag does not skip the checks (CVE-2026-2614).
	s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "m", "source": "file:///etc/",
		"tags": []map[string]any{{"key": "mlflow.prompt.is_prompt", "value": "true"}}}).wantError(t, 400, "INVALID_PARAMETER_VALUE")

	// Schemes the operator allows for artifact locations are allowed for sources too.
	s3 := newServer(t, func(c *config.Server) { c.ArtifactSchemes = []string{"s3"} })
	s3.createModel(t, "m")
	v := s3.do(t, "POST", api+"model-versions/create", map[string]any{"name": "m", "source": "s3://bucket//model/"}).ok(t)
	if dig(v, "model_version", "source") != "s3://bucket/model" {
		t.Errorf("s3 source = %v", v)
	}
}

func TestModelVersionFromLoggedModel(t *testing.T) {
	s := newServer(t, nil)
	expID, runID := s.createRun(t, "logged")
	lm := s.do(t, "POST", api+"logged-models", map[string]any{"experiment_id": expID, "name": "model", "source_run_id": runID}).ok(t)
	modelID := dig(lm, "model", "info", "model_id").(string)
	artifactURI := dig(lm, "model", "info", "artifact_uri").(string)
	s.createModel(t, "m")
	v := s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "m", "source": "models:/" + modelID, "model_id": modelID}).ok(t)
	if dig(v, "model_version", "run_id") != runID || dig(v, "model_version", "source") != "models:/"+modelID {
		t.Errorf("version from logged model = %v", v)
	}
	uri := s.do(t, "GET", api+"model-versions/get-download-uri?name=m&version=1", nil).ok(t)
	if uri["artifact_uri"] != artifactURI {
		t.Errorf("download URI = %v, want %s", uri["artifact_uri"], artifactURI)
	}
	// A copy of that version resolves to the same artifacts.
	s.createModel(t, "copy")
	s.do(t, "POST", api+"model-versions/create", map[string]any{"name": "copy", "source": "models:/m/1"}).ok(t)
	uri = s.do(t, "GET", api+"model-versions/get-download-uri?name=copy&version=1", nil).ok(t)
	if uri["artifact_uri"] != artifactURI {
		t.Errorf("copy's download URI = %v, want %s", uri["artifact_uri"], artifactURI)
	}
}
