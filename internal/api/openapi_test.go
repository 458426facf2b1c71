package api

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoverage fails when a registered route is missing from openapi.json or the
// document describes a route that is not registered.
func TestOpenAPICoverage(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			if slices.Contains(methods, m) {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	var registered []string
	for _, rt := range (&API{}).routeTable() {
		// A trailing {name...} wildcard is {name} in OpenAPI.
		registered = append(registered, rt.method+" "+strings.ReplaceAll(rt.path, "...}", "}"))
	}
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered but not in openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json describes %s, which is not registered", d)
		}
	}
}

// TestOpenAPIPathParameters checks that every {wildcard} of a documented path is a
// declared path parameter.
func TestOpenAPIPathParameters(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref string `json:"$ref"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			var declared []string
			for _, prm := range op.Parameters {
				c := doc.Components.Parameters[strings.TrimPrefix(prm.Ref, "#/components/parameters/")]
				if c.In == "path" {
					declared = append(declared, c.Name)
				}
			}
			for _, seg := range strings.Split(p, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok && !slices.Contains(declared, strings.TrimSuffix(name, "}")) {
					t.Errorf("%s %s: path parameter %s is not declared", m, p, seg)
				}
			}
		}
	}
}
