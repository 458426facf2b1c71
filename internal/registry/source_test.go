package registry_test

import (
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

func TestSourceValidation(t *testing.T) {
	tests := []struct {
		source    string
		canonical string // "" when refused
	}{
		// Refused: the sources of MLflow's CVEs, and their relatives.
		{"file:///etc/", ""},
		{"file://./etc", ""},
		{"FILE:///etc/passwd", ""},
		{"//proc/self/root", ""},
		{"/etc/passwd", ""},
		{"relative/path", ""},
		{"mlflow-artifacts:/1/%2e%2e/x", ""},
		{"mlflow-artifacts:/1/%252e%252e/x", ""},
		{"mlflow-artifacts:/1/%25252E%25252E/x", ""},
		{"mlflow-artifacts:/1/../x", ""},
		{"mlflow-artifacts:/1/./x", ""},
		{"mlflow-artifacts:/1/..%2f..%2fetc", ""},
		{"mlflow-artifacts:/a#/../..", ""},
		{"mlflow-artifacts:/a%23/x", ""},
		{"mlflow-artifacts:/a?x=/../..", ""},
		{"mlflow-artifacts:/a;p/x", ""},
		{`mlflow-artifacts:/a\..\x`, ""},
		{"mlflow-artifacts:/a%00b", ""},
		{"mlflow-artifacts:/a\x17b", ""},
		{"mlflow-artifacts:/a%zz", ""},
		{"mlflow-artifacts://evil.example.com/1/x", ""},
		{"mlflow-artifacts:/", ""},
		{"mlflow-artifacts:relative", ""},
		{"http:///?/../", ""},
		{"http://attacker/api/2.0/mlflow-artifacts/artifacts/", ""},
		{"https://example.com/model", ""},
		{"dbfs:/x", ""},
		{"s3:///no-bucket", ""},
		{"s3://user:pw@bucket/x", ""},
		{"runs:/", ""},
		{"runs://host/run1/model", ""},
		{"runs:/bad!id/model", ""},
		{"models:/x/y/z", ""},
		{"models:/name/Production", ""},
		{"models:/m-nothex", ""},
		{"prompt-template", ""},
		// Accepted, and stored canonical.
		{"mlflow-artifacts:/0/run1/artifacts/model", "mlflow-artifacts:/0/run1/artifacts/model"},
		{"MLFLOW-ARTIFACTS:/0//run1/artifacts/model/", "mlflow-artifacts:/0/run1/artifacts/model"},
		{"mlflow-artifacts:/0/my%20model", "mlflow-artifacts:/0/my%20model"},
		{"runs:/run1/model", "runs:/run1/model"},
		{"runs:/run1", "runs:/run1"},
		{"s3://bucket/models/x", "s3://bucket/models/x"},
		{"S3://bucket//models/x/", "s3://bucket/models/x"},
		{"models:/" + loggedModelID, "models:/" + loggedModelID},
	}
	conform(t, func(t *testing.T, s *registry.Service) {
		mustModel(t, s, "m")
		for _, tc := range tests {
			t.Run(tc.source, func(t *testing.T) {
				v, err := s.CreateModelVersion(t.Context(), registry.CreateVersionInput{Name: "m", Source: tc.source})
				if tc.canonical == "" {
					wantKind(t, err, fault.Invalid)
					return
				}
				wantKind(t, err, ok)
				if v.Source != tc.canonical {
					t.Errorf("source stored as %q, want %q", v.Source, tc.canonical)
				}
			})
		}
	})
}

func TestSourceSchemesAreAllowListed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := registry.New(db, registry.Options{SourceSchemes: []string{"https"}})
		mustModel(t, s, "m")
		for src, want := range map[string]fault.Kind{
			"https://models.example.com/fraud/1":                      ok,
			"s3://bucket/x":                                           fault.Invalid,
			"https://attacker/api/2.0/mlflow-artifacts/artifacts/":    fault.Invalid,
			"https://attacker/x/API/2.0/MLFLOW-ARTIFACTS/ARTIFACTS/1": fault.Invalid,
			"https:///?/../":                                          fault.Invalid,
			"models:/" + loggedModelID:                                fault.Invalid, // no logged models here
		} {
			_, err := s.CreateModelVersion(t.Context(), registry.CreateVersionInput{Name: "m", Source: src})
			if wantKind(t, err, want); err != nil && !strings.Contains(err.Error(), "Invalid model version source") {
				t.Errorf("%s: message %q", src, err)
			}
		}
	})
}

func TestSourceResolution(t *testing.T) {
	conform(t, func(t *testing.T, s *registry.Service) {
		ctx := t.Context()
		mustModel(t, s, "m")
		artifacts := "mlflow-artifacts:/1/models/" + loggedModelID + "/artifacts"
		tests := []struct {
			name                    string
			in                      registry.CreateVersionInput
			want                    fault.Kind
			storage, runID, modelID string
		}{
			{"logged model", registry.CreateVersionInput{Source: "models:/" + loggedModelID}, ok, artifacts, "run1", loggedModelID},
			{"logged model with its id", registry.CreateVersionInput{Source: "models:/" + loggedModelID, ModelID: loggedModelID}, ok, artifacts, "run1", loggedModelID},
			{"logged model, own run", registry.CreateVersionInput{Source: "models:/" + loggedModelID, RunID: "other"}, ok, artifacts, "other", loggedModelID},
			{"logged model, other id", registry.CreateVersionInput{Source: "models:/" + loggedModelID, ModelID: "m-ffffffffffffffffffffffffffffffff"}, fault.Invalid, "", "", ""},
			{"unknown logged model", registry.CreateVersionInput{Source: "models:/m-ffffffffffffffffffffffffffffffff"}, fault.Invalid, "", "", ""},
			{"path inside logged model", registry.CreateVersionInput{Source: artifacts + "/sub", ModelID: loggedModelID}, ok, artifacts + "/sub", "run1", loggedModelID},
			{"path outside logged model", registry.CreateVersionInput{Source: "mlflow-artifacts:/1/elsewhere", ModelID: loggedModelID}, fault.Invalid, "", "", ""},
			{"run", registry.CreateVersionInput{Source: "runs:/run7/model"}, ok, "runs:/run7/model", "run7", ""},
			{"run, same id", registry.CreateVersionInput{Source: "runs:/run7/model", RunID: "run7"}, ok, "runs:/run7/model", "run7", ""},
			{"run, other id", registry.CreateVersionInput{Source: "runs:/run7/model", RunID: "run8"}, fault.Invalid, "", "", ""},
			{"copy of version 1", registry.CreateVersionInput{Source: "models:/m/1"}, ok, artifacts, "run1", loggedModelID},
			{"copy of missing version", registry.CreateVersionInput{Source: "models:/m/99"}, fault.Invalid, "", "", ""},
			{"prompt", registry.CreateVersionInput{Source: "dummy-source", Tags: []registry.Tag{{Key: registry.TagIsPrompt, Value: "true"}}}, ok, "dummy-source", "", ""},
			{"prompt with a path", registry.CreateVersionInput{Source: "file:///etc/", Tags: []registry.Tag{{Key: registry.TagIsPrompt, Value: "true"}}}, fault.Invalid, "", "", ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				tc.in.Name = "m"
				v, err := s.CreateModelVersion(ctx, tc.in)
				wantKind(t, err, tc.want)
				if err != nil {
					return
				}
				uri, err := s.GetDownloadURI(ctx, "m", v.Version)
				wantKind(t, err, ok)
				if uri != tc.storage || v.StorageLocation != tc.storage || v.RunID != tc.runID || v.ModelID != tc.modelID {
					t.Errorf("version %s: storage %q (download %q), run %q, model %q; want %q, %q, %q",
						v.Version, v.StorageLocation, uri, v.RunID, v.ModelID, tc.storage, tc.runID, tc.modelID)
				}
			})
		}
	})
}
