package mlflowapi

import (
	"net/http"
	"testing"
)

// TestEveryRouteDeclaresItsObjects checks that each MLflow route says what it needs
// on the objects it touches: a route without a rule would be open to administrators
// only once identities are on.
func TestEveryRouteDeclaresItsObjects(t *testing.T) {
	a := &API{}
	for _, r := range a.routes() {
		if !RuleFor(r.method, r.path) {
			t.Errorf("%s %s declares no object rule", r.method, r.path)
		}
	}
	for _, r := range a.artifactRoutes() {
		if !RuleFor(r.Method, r.Path) {
			t.Errorf("%s %s declares no object rule", r.Method, r.Path)
		}
	}
	if !RuleFor(http.MethodGet, "/model-versions/get-artifact") {
		t.Error("get-artifact declares no object rule")
	}
	if !RuleFor(http.MethodPost, OTLPTracesPath) {
		t.Error("OpenTelemetry ingest declares no object rule")
	}
	for key := range objectRules { // and no rule names a route that is not there
		found := key == "GET /model-versions/get-artifact" || key == "POST "+OTLPTracesPath
		for _, r := range a.routes() {
			found = found || key == r.method+" "+r.path
		}
		for _, r := range a.artifactRoutes() {
			found = found || key == r.Method+" "+ruleKey(r.Path)
		}
		if !found {
			t.Errorf("rule %q names no route", key)
		}
	}
}
