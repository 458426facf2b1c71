package mlflowapi_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEvaluationDatasetsWire checks the dataset routes' shapes as MLflow's client reads
// them (tags, schema and profile as JSON text, records as a JSON list in a string) and
// that every refusal is a 4xx in MLflow's error shape that leaves the dataset as it was.
func TestEvaluationDatasetsWire(t *testing.T) {
	s := newServer(t, nil)
	exp, _ := s.createRun(t, "wire-genai")
	got := s.do(t, "POST", v3+"datasets/create", `{"name": "qa", "experiment_ids": ["`+exp+`"], "tags": "{\"team\": \"x\"}"}`).ok(t)
	ds := got["dataset"].(map[string]any)
	id := ds["dataset_id"].(string)
	if !strings.HasPrefix(id, "d-") || ds["tags"] != `{"team":"x"}` || dig(ds, "experiment_ids", 0) != exp {
		t.Fatalf("created %v", ds)
	}
	records := v3 + "datasets/" + id + "/records"
	up := s.do(t, "POST", records, `{"records": "[{\"inputs\": {\"q\": \"a\"}, \"expectations\": {\"x\": 1}}]"}`).ok(t)
	if up["inserted_count"] != 1.0 || up["updated_count"] != 0.0 {
		t.Errorf("upsert %v", up)
	}
	for name, bad := range map[string]string{
		"not json":       `{"records": "[{"}`,
		"not a string":   `{"records": 5}`,
		"no records":     `{}`,
		"inputs missing": `{"records": "[{\"inputs\": {\"q\": \"b\"}}, {\"outputs\": 1}]"}`,
		"bad source":     `{"records": "[{\"inputs\": {\"q\": \"c\"}, \"source\": {\"source_type\": 3}}]"}`,
	} {
		t.Run(name, func(t *testing.T) { s.do(t, "POST", records, bad).wantError(t, 400, "INVALID_PARAMETER_VALUE") })
	}
	page := s.do(t, "GET", records+"?max_results=10", nil).ok(t)
	var recs []map[string]any
	if err := json.Unmarshal([]byte(page["records"].(string)), &recs); err != nil || len(recs) != 1 {
		t.Fatalf("records %v: %v", page, err)
	}
	if dig(recs[0], "inputs", "q") != "a" || dig(recs[0], "expectations", "x") != 1.0 || recs[0]["dataset_id"] != id ||
		dig(recs[0], "tags") == nil || recs[0]["created_time"] == nil {
		t.Errorf("record %v", recs[0])
	}
	got = s.do(t, "GET", v3+"datasets/"+id, nil).ok(t)
	if dig(got, "dataset", "profile") != `{"num_records":1}` {
		t.Errorf("dataset %v", got)
	}
	s.do(t, "GET", v3+"datasets/d-missing", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "GET", v3+"datasets/d-missing/records", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "GET", records+"?page_token=nope", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "GET", records+"?max_results=x", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", v3+"datasets/create", `{"name": "x", "experiment_ids": ["123456"]}`).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "POST", v3+"datasets/search", `{"filter_string": "name = "}`).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "PATCH", v3+"datasets/"+id+"/tags", `{"tags": "{\"a\": [1]}"}`).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", v3+"datasets/"+id+"/add-experiments", `{"experiment_ids": ["123456"]}`).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	found := s.do(t, "POST", v3+"datasets/search", `{"filter_string": "name = 'qa'", "experiment_ids": ["`+exp+`"]}`).ok(t)
	if dig(found, "datasets", 0, "dataset_id") != id {
		t.Errorf("search %v", found)
	}
	if n := s.do(t, "DELETE", records, `{"dataset_record_ids": ["`+recs[0]["dataset_record_id"].(string)+`"]}`).ok(t); n["deleted_count"] != 1.0 {
		t.Errorf("delete records %v", n)
	}
	s.do(t, "DELETE", v3+"datasets/"+id, nil).ok(t)
	s.do(t, "GET", v3+"datasets/"+id, nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
}

func TestScorersWire(t *testing.T) {
	s := newServer(t, nil)
	exp, _ := s.createRun(t, "wire-scorers")
	reg := s.do(t, "POST", v3+"scorers/register", `{"experiment_id": "`+exp+`", "name": "exact", "serialized_scorer": "{\"name\": \"exact\"}"}`).ok(t)
	if reg["version"] != 1.0 || reg["experiment_id"] != exp || reg["name"] != "exact" || reg["scorer_id"] == "" {
		t.Errorf("register %v", reg)
	}
	list := s.do(t, "GET", v3+"scorers/list?experiment_id="+exp, nil).ok(t)
	if dig(list, "scorers", 0, "scorer_name") != "exact" || dig(list, "scorers", 0, "scorer_version") != 1.0 ||
		dig(list, "scorers", 0, "serialized_scorer") != `{"name": "exact"}` {
		t.Errorf("list %v", list)
	}
	if got := s.do(t, "GET", v3+"scorers/get?experiment_id="+exp+"&name=exact&version=1", nil).ok(t); dig(got, "scorer", "scorer_id") != reg["scorer_id"] {
		t.Errorf("get %v", got)
	}
	if got := s.do(t, "GET", v3+"scorers/online-configs?scorer_ids=x", nil).ok(t); len(got["configs"].([]any)) != 0 {
		t.Errorf("online configs %v", got)
	}
	s.do(t, "GET", v3+"scorers/get?experiment_id="+exp+"&name=none", nil).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "GET", v3+"scorers/get?experiment_id="+exp+"&name=exact&version=x", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", v3+"scorers/register", `{"experiment_id": "`+exp+`", "name": "x", "serialized_scorer": "[1]"}`).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "POST", v3+"scorers/register", `{"experiment_id": "`+exp+`", "name": "x"}`).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "GET", v3+"scorers/list", nil).wantError(t, 400, "INVALID_PARAMETER_VALUE")
	s.do(t, "PUT", v3+"scorers/online-config", `{"experiment_id": "`+exp+`", "name": "exact", "sample_rate": 1}`).wantError(t, 501, "NOT_IMPLEMENTED")
	s.do(t, "DELETE", v3+"scorers/delete", `{"experiment_id": "`+exp+`", "name": "exact", "version": 7}`).wantError(t, 404, "RESOURCE_DOES_NOT_EXIST")
	s.do(t, "DELETE", v3+"scorers/delete", `{"experiment_id": "`+exp+`", "name": "exact"}`).ok(t)
	if list := s.do(t, "GET", v3+"scorers/list?experiment_id="+exp, nil).ok(t); len(list["scorers"].([]any)) != 0 {
		t.Errorf("after delete %v", list)
	}
}
