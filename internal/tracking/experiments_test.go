package tracking_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

func TestDefaultExperiment(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		e, err := s.GetExperiment(t.Context(), tracking.DefaultExperimentID)
		wantKind(t, err, ok)
		if e.Name != "Default" || e.ArtifactLocation != "mlflow-artifacts:/0" || e.LifecycleStage != tracking.StageActive {
			t.Errorf("default experiment = %+v", e)
		}
		// Init is idempotent.
		if err := s.Init(t.Context()); err != nil {
			t.Fatalf("second Init: %v", err)
		}
		wantKind(t, s.DeleteExperiment(t.Context(), "0"), fault.Invalid)
	})
}

func TestExperimentLifecycle(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		id := mustExperiment(t, s, "lifecycle", tracking.Tag{Key: "team", Value: "vision"})
		e, err := s.GetExperiment(ctx, id)
		wantKind(t, err, ok)
		if e.ExperimentID != id || e.Name != "lifecycle" || e.LifecycleStage != tracking.StageActive ||
			e.ArtifactLocation != "mlflow-artifacts:/"+id || e.CreationTime <= 0 || e.LastUpdateTime < e.CreationTime {
			t.Errorf("GetExperiment = %+v", e)
		}
		if !slices.Equal(e.Tags, []tracking.Tag{{Key: "team", Value: "vision"}}) {
			t.Errorf("tags = %v", e.Tags)
		}
		byName, err := s.GetExperimentByName(ctx, "lifecycle")
		wantKind(t, err, ok)
		if byName.ExperimentID != id || len(byName.Tags) != 1 {
			t.Errorf("GetExperimentByName = %+v", byName)
		}
		run := mustRun(t, s, tracking.CreateRunInput{ExperimentID: id})
		if want := "mlflow-artifacts:/" + id + "/" + run.Info.RunID + "/artifacts"; run.Info.ArtifactURI != want {
			t.Errorf("artifact_uri = %q, want %q", run.Info.ArtifactURI, want)
		}

		wantKind(t, s.RenameExperiment(ctx, id, "renamed"), ok)
		_, err = s.GetExperimentByName(ctx, "lifecycle")
		wantKind(t, err, fault.NotFound)
		e, err = s.GetExperimentByName(ctx, "renamed")
		wantKind(t, err, ok)
		if e.ExperimentID != id {
			t.Errorf("renamed experiment id = %s, want %s", e.ExperimentID, id)
		}

		wantKind(t, s.DeleteExperiment(ctx, id), ok)
		assertStages(t, s, id, run.Info.RunID, tracking.StageDeleted)
		// A deleted experiment is still found by name, and refuses changes.
		_, err = s.GetExperimentByName(ctx, "renamed")
		wantKind(t, err, ok)
		wantKind(t, s.RenameExperiment(ctx, id, "again"), fault.Invalid)
		wantKind(t, s.SetExperimentTag(ctx, id, tracking.Tag{Key: "k", Value: "v"}), fault.Invalid)
		_, err = s.CreateRun(ctx, tracking.CreateRunInput{ExperimentID: id})
		wantKind(t, err, fault.Invalid)
		wantKind(t, s.LogMetric(ctx, run.Info.RunID, metric("m", 1, 1, 0)), fault.Invalid)

		wantKind(t, s.RestoreExperiment(ctx, id), ok)
		assertStages(t, s, id, run.Info.RunID, tracking.StageActive)
		wantKind(t, s.RestoreExperiment(ctx, id), fault.Invalid)
		wantKind(t, s.LogMetric(ctx, run.Info.RunID, metric("m", 1, 1, 0)), ok)
	})
}

func assertStages(t *testing.T, s *tracking.Service, expID, runID, stage string) {
	t.Helper()
	e, err := s.GetExperiment(t.Context(), expID)
	wantKind(t, err, ok)
	r := mustGetRun(t, s, runID)
	if e.LifecycleStage != stage || r.Info.LifecycleStage != stage {
		t.Errorf("stages: experiment %s, run %s; want both %s", e.LifecycleStage, r.Info.LifecycleStage, stage)
	}
}

func TestExperimentTags(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		id := mustExperiment(t, s, "tags")
		wantKind(t, s.SetExperimentTag(ctx, id, tracking.Tag{Key: "b", Value: "1"}), ok)
		wantKind(t, s.SetExperimentTag(ctx, id, tracking.Tag{Key: "a", Value: "1"}), ok)
		wantKind(t, s.SetExperimentTag(ctx, id, tracking.Tag{Key: "b", Value: "2"}), ok)
		e, err := s.GetExperiment(ctx, id)
		wantKind(t, err, ok)
		if want := []tracking.Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}; !slices.Equal(e.Tags, want) {
			t.Errorf("tags = %v, want %v", e.Tags, want)
		}
		wantKind(t, s.DeleteExperimentTag(ctx, id, "a"), ok)
		wantKind(t, s.DeleteExperimentTag(ctx, id, "a"), fault.NotFound)
		e, _ = s.GetExperiment(ctx, id)
		if want := []tracking.Tag{{Key: "b", Value: "2"}}; !slices.Equal(e.Tags, want) {
			t.Errorf("tags after delete = %v, want %v", e.Tags, want)
		}
	})
}

func TestExperimentErrors(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		taken := mustExperiment(t, s, "taken")
		gone := mustExperiment(t, s, "gone")
		wantKind(t, s.DeleteExperiment(ctx, gone), ok)
		other := mustExperiment(t, s, "other")
		for _, tc := range []struct {
			name string
			call func() error
			want fault.Kind
		}{
			{"get missing", func() error { _, err := s.GetExperiment(ctx, "424242"); return err }, fault.NotFound},
			{"get non-numeric", func() error { _, err := s.GetExperiment(ctx, "abc"); return err }, fault.Invalid},
			{"get out of range", func() error { _, err := s.GetExperiment(ctx, "99999999999999999999"); return err }, fault.Invalid},
			{"get malformed", func() error { _, err := s.GetExperiment(ctx, "../1"); return err }, fault.Invalid},
			{"get empty", func() error { _, err := s.GetExperiment(ctx, ""); return err }, fault.Invalid},
			{"by name missing", func() error { _, err := s.GetExperimentByName(ctx, "nope"); return err }, fault.NotFound},
			{"by name empty", func() error { _, err := s.GetExperimentByName(ctx, ""); return err }, fault.Invalid},
			{"create duplicate", func() error { return create(ctx, s, "taken") }, fault.AlreadyExists},
			{"create name of deleted", func() error { return create(ctx, s, "gone") }, fault.AlreadyExists},
			{"create empty", func() error { return create(ctx, s, "") }, fault.Invalid},
			{"create blank", func() error { return create(ctx, s, "   ") }, fault.Invalid},
			{"create 500 chars", func() error { return create(ctx, s, strings.Repeat("n", 500)) }, ok},
			{"create 501 chars", func() error { return create(ctx, s, strings.Repeat("x", 501)) }, fault.Invalid},
			{"rename to taken", func() error { return s.RenameExperiment(ctx, other, "taken") }, fault.AlreadyExists},
			{"rename missing", func() error { return s.RenameExperiment(ctx, "424242", "x") }, fault.NotFound},
			{"rename too long", func() error { return s.RenameExperiment(ctx, other, strings.Repeat("x", 501)) }, fault.Invalid},
			{"delete missing", func() error { return s.DeleteExperiment(ctx, "424242") }, fault.NotFound},
			{"restore active", func() error { return s.RestoreExperiment(ctx, taken) }, fault.Invalid},
			{"restore missing", func() error { return s.RestoreExperiment(ctx, "424242") }, fault.NotFound},
			{"tag value 5000", func() error { return setExpTag(ctx, s, taken, "k", strings.Repeat("v", 5000)) }, ok},
			{"tag value 5001", func() error { return setExpTag(ctx, s, taken, "k", strings.Repeat("v", 5001)) }, fault.Invalid},
			{"tag bad key", func() error { return setExpTag(ctx, s, taken, "../k", "v") }, fault.Invalid},
			{"tag missing experiment", func() error { return setExpTag(ctx, s, "424242", "k", "v") }, fault.NotFound},
			{"create with long tag", func() error {
				_, err := s.CreateExperiment(ctx, "long-tag", "", []tracking.Tag{{Key: "k", Value: strings.Repeat("v", 5001)}})
				return err
			}, fault.Invalid},
			{"delete tag empty key", func() error { return s.DeleteExperimentTag(ctx, taken, "") }, fault.Invalid},
		} {
			t.Run(tc.name, func(t *testing.T) { wantKind(t, tc.call(), tc.want) })
		}
		// A refused create leaves nothing behind.
		if _, err := s.GetExperimentByName(ctx, "long-tag"); err == nil {
			t.Error("experiment with a refused tag was created")
		}
	})
}

func create(ctx context.Context, s *tracking.Service, name string) error {
	_, err := s.CreateExperiment(ctx, name, "", nil)
	return err
}

func setExpTag(ctx context.Context, s *tracking.Service, id, key, value string) error {
	return s.SetExperimentTag(ctx, id, tracking.Tag{Key: key, Value: value})
}

func TestArtifactLocation(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		for i, tc := range []struct {
			loc  string
			want fault.Kind
		}{
			{"", ok},
			{"mlflow-artifacts:/x", ok},
			{"mlflow-artifacts:/team/a%2Fb", ok},
			{"s3://bucket/prefix", ok},
			{"http:///?/../../etc/", fault.Invalid},
			{"http:///#/../../etc/", fault.Invalid},
			{"http://h/a;p/../..", fault.Invalid},
			{"http://h/a/../../b", fault.Invalid},
			{"s3://bucket/a/..%2f..%2fb", fault.Invalid},
			{"file:///etc", fault.Invalid},
			{"dbfs:/", fault.Invalid},
			{"runs:/abc/x", fault.Invalid},
			{"mlflow-artifacts:/a/%2e%2e/b", fault.Invalid},
			{"mlflow-artifacts:/a/%252e%252e/b", fault.Invalid},
			{`mlflow-artifacts:/a\..\b`, fault.Invalid},
			{"/var/lib/artifacts", fault.Invalid},
			{"relative/dir", fault.Invalid},
			{"mlflow-artifacts:/" + strings.Repeat("a", 2048-len("mlflow-artifacts:/")), ok},
			{"mlflow-artifacts:/" + strings.Repeat("a", 2049-len("mlflow-artifacts:/")), fault.Invalid},
		} {
			t.Run(abbrev(tc.loc), func(t *testing.T) {
				name := "loc-" + string(rune('a'+i))
				id, err := s.CreateExperiment(t.Context(), name, tc.loc, nil)
				wantKind(t, err, tc.want)
				if tc.want != ok {
					if _, err := s.GetExperimentByName(t.Context(), name); err == nil {
						t.Error("a refused experiment was created")
					}
					return
				}
				e, err := s.GetExperiment(t.Context(), id)
				wantKind(t, err, ok)
				want := tc.loc
				if want == "" {
					want = "mlflow-artifacts:/" + id
				}
				if e.ArtifactLocation != want {
					t.Errorf("artifact_location = %q, want %q", e.ArtifactLocation, want)
				}
				run := mustRun(t, s, tracking.CreateRunInput{ExperimentID: id})
				if uri := want + "/" + run.Info.RunID + "/artifacts"; run.Info.ArtifactURI != uri {
					t.Errorf("run artifact_uri = %q, want %q", run.Info.ArtifactURI, uri)
				}
			})
		}
	})
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	if s == "" {
		return "empty"
	}
	return s
}
