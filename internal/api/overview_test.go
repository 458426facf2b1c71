package api_test

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/api"
	"github.com/mlship/mlship/internal/config"
	"github.com/mlship/mlship/internal/server"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/store"
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
	if o.Alias != "production" || len(o.Production) != 1 || len(o.Stalled) != 1 || o.TrafficWindow != "720h0m0s" {
		t.Fatalf("overview = %+v", o)
	}
	p := o.Production[0]
	if p.Name != "fraud" || p.Version != "1" || p.Owner != "ana" || p.OwnerFrom != "tag" || p.Contact != "#fraud" ||
		p.RegisteredAt == 0 || p.Since == nil || p.SinceFrom != "alias" || p.FirstProductionAt == nil || *p.FirstProductionAt != *p.Since ||
		p.TimeToProductionMs == nil || *p.TimeToProductionMs < 0 || p.Gate != nil || len(p.Deployments) != 1 ||
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

// newSeededServer is newServer over a database where seed has written first.
func newSeededServer(t *testing.T, seed func(db *store.DB)) *testServer {
	t.Helper()
	cfg := config.DefaultServer()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), cfg.BackendStoreURI, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	seed(db)
	db.Close()
	srv, err := server.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, content: cfg.ContentDestination}
}

// The overview's traffic covers 30 days of the deployments' hourly history, shadow
// copies and older hours left out, day by day; the stats endpoint answers the same
// hours for windows past the live hour.
func TestOverviewTraffic30Days(t *testing.T) {
	hour := time.Now().Unix() / 3600 * 3600
	const day = 24 * 3600
	s := newSeededServer(t, func(db *store.DB) {
		err := serving.NewSQLStore(db).AddTraffic(context.Background(), []serving.TrafficHour{
			{Deployment: "fraud-api", Role: "primary", Hour: hour - 40*day, Requests: 1000}, // past the window
			{Deployment: "fraud-api", Role: "primary", Hour: hour - 10*day, Requests: 100, Failures: 5, ClientErrors: 2},
			{Deployment: "fraud-api", Role: "shadow", Hour: hour - 10*day, Requests: 50, Failures: 50},
			{Deployment: "fraud-api", Role: "primary", Hour: hour, Requests: 7},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	overviewFixture(t, s)
	var o api.Overview
	s.ok(t, "GET", "/api/v1/overview", nil, &o)
	if o.TrafficWindow != "720h0m0s" || o.TrafficSince != (hour-30*day+3600)*1000 || len(o.Production) != 1 {
		t.Fatalf("overview = %+v", o)
	}
	tr := o.Production[0].Traffic
	if tr.Requests != 107 || tr.Failures != 5 || tr.ClientErrors != 2 || tr.ErrorRate != 5.0/107 || len(tr.Daily) != 30 {
		t.Fatalf("traffic = %+v", tr)
	}
	if d := tr.Daily[29]; d.Requests != 7 || d.Start != (hour-day+3600)*1000 {
		t.Errorf("today = %+v", d)
	}
	if d := tr.Daily[19]; d.Requests != 100 || d.Failures != 5 {
		t.Errorf("ten days ago = %+v, all days %+v", d, tr.Daily)
	}
	if st := o.Stalled[0].Traffic; st.Requests != 0 || len(st.Daily) != 30 {
		t.Errorf("a model without deployments: %+v", st)
	}
	req, _ := http.NewRequest("GET", s.URL+"/api/v1/overview?format=csv", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if len(rows) < 2 || rows[0][16] != "requests_30d" || rows[1][16] != "107" || rows[1][17] != "5" || rows[1][18] != "0.0467" {
		t.Errorf("csv = %q", rows)
	}

	var st serving.DeploymentStats
	s.ok(t, "GET", "/api/v1/deployments/fraud-api/stats?window=720h", nil, &st)
	if len(st.Roles) != 2 || st.Roles[0].Requests != 107 || st.Roles[1].Role != "shadow" || st.Roles[1].Requests != 50 ||
		len(st.Hourly) != 3 || st.Hourly[0].Start != (hour-10*day)*1000 || st.Since != o.TrafficSince {
		t.Errorf("720h stats = %+v", st)
	}
	s.ok(t, "GET", "/api/v1/deployments/fraud-api/stats?window=2h", nil, &st)
	if len(st.Roles) != 1 || st.Roles[0].Requests != 7 || len(st.Hourly) != 1 {
		t.Errorf("2h stats = %+v", st)
	}
	for _, w := range []string{"90m", "2161h"} {
		if status, _ := s.do(t, "GET", "/api/v1/deployments/fraud-api/stats?window="+w, nil, nil); status != 400 {
			t.Errorf("window %s: %d, want 400", w, status)
		}
	}
}
