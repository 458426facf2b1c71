package api_test

import (
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/serving"
)

func TestDeploymentStats(t *testing.T) {
	s := newServer(t)
	register(t, s)
	s.ok(t, "POST", "/api/v1/deployments", map[string]any{"name": "fraud", "model": "models:/fraud@champion"}, nil)
	var st serving.DeploymentStats
	s.ok(t, "GET", "/api/v1/deployments/fraud/stats?window=30s", nil, &st)
	if st.Deployment != "fraud" || st.Seconds != 30 || st.Window != "30s" || st.Roles == nil {
		t.Errorf("stats = %+v", st)
	}
	s.ok(t, "GET", "/api/v1/deployments/fraud/stats", nil, &st)
	if st.Seconds != 300 {
		t.Errorf("default window = %+v", st)
	}
	for _, tc := range []struct {
		target string
		status int
		code   string
	}{
		{"/api/v1/deployments/fraud/stats?window=five", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/deployments/fraud/stats?window=90m", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/deployments/fraud/stats?window=-5m", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/deployments/fraud/stats?window=1.5s", 400, "INVALID_PARAMETER_VALUE"},
		{"/api/v1/deployments/nope/stats", 404, "RESOURCE_DOES_NOT_EXIST"},
	} {
		status, body := s.do(t, "GET", tc.target, nil, nil)
		if status != tc.status || !strings.Contains(string(body), tc.code) {
			t.Errorf("GET %s = %d %s, want %d %s", tc.target, status, body, tc.status, tc.code)
		}
	}
}
