package api_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/api"
)

// overviewFixture registers fraud (version 1 under production), churn (a version never
// promoted) and empty (no version).
func overviewFixture(t *testing.T, s *testServer) {
	t.Helper()
	f := register(t, s)
	s.ok(t, "POST", mlflow+"registered-models/alias", map[string]any{"name": "fraud", "alias": "production", "version": "1"}, nil)
	s.ok(t, "POST", mlflow+"registered-models/create", map[string]any{"name": "churn"}, nil)
	s.ok(t, "POST", mlflow+"model-versions/create", map[string]any{"name": "churn", "run_id": f.runID,
		"source": "mlflow-artifacts:/" + f.expID + "/" + f.runID + "/artifacts/model"}, nil)
	s.ok(t, "POST", mlflow+"registered-models/create", map[string]any{"name": "empty"}, nil)
	s.ok(t, "POST", "/api/v1/deployments", map[string]any{"name": "fraud-api", "model": "models:/fraud@production"}, nil)
}

func TestOverview(t *testing.T) {
	s := newServer(t)
	overviewFixture(t, s)
	var o api.Overview
	s.ok(t, "GET", "/api/v1/overview", nil, &o)
	if o.Alias != "production" || len(o.Production) != 1 || len(o.Stalled) != 1 || o.TrafficWindow != "1h0m0s" {
		t.Fatalf("overview = %+v", o)
	}
	p := o.Production[0]
	if p.Name != "fraud" || p.Version != "1" || p.Owner != "ana" || p.OwnerFrom != "tag" || p.Contact != "#fraud" ||
		p.RegisteredAt == 0 || p.Since != nil || p.TimeToProductionMs != nil || p.Gate != nil || len(p.Deployments) != 1 ||
		p.Deployments[0].Name != "fraud-api" || p.Deployments[0].Drift != "unmonitored" || p.Deployments[0].Roles[0] != "primary" {
		t.Errorf("production = %+v", p)
	}
	if st := o.Stalled[0]; st.Name != "churn" || st.StalledReason != "never_promoted" || st.Version != "" || st.OwnerFrom != "creator" {
		t.Errorf("stalled = %+v", st)
	}
	s.ok(t, "GET", "/api/v1/overview?alias=champion", nil, &o)
	if len(o.Production) != 1 || o.Production[0].Name != "fraud" || o.Alias != "champion" {
		t.Errorf("champion overview = %+v", o)
	}
}

func TestOverviewCSV(t *testing.T) {
	s := newServer(t)
	overviewFixture(t, s)
	s.ok(t, "POST", mlflow+"registered-models/set-tag", map[string]any{"name": "churn", "key": "mlship.owner", "value": "=HYPERLINK(1)"}, nil)
	for _, ask := range []struct{ query, accept string }{{"?format=csv", ""}, {"", "text/csv"}} {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/overview"+ask.query, nil)
		if ask.accept != "" {
			req.Header.Set("Accept", ask.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%+v: %d %s %v", ask, resp.StatusCode, resp.Header.Get("Content-Type"), err)
		}
		if len(rows) != 3 || rows[0][0] != "model" || rows[1][0] != "fraud" || rows[1][1] != "true" || rows[1][6] != "1" ||
			rows[2][0] != "churn" || rows[2][2] != "never_promoted" || rows[2][3] != "'=HYPERLINK(1)" {
			t.Errorf("%+v: rows = %q", ask, rows)
		}
	}
	for _, target := range []string{"/api/v1/overview?format=xml", "/api/v1/overview?alias=" + strings.Repeat("a", 256)} {
		if status, body := s.do(t, "GET", target, nil, nil); status != 400 || !strings.Contains(string(body), "INVALID_PARAMETER_VALUE") {
			t.Errorf("GET %.60s = %d %s", target, status, body)
		}
	}
}
