package tracking_test

import (
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/protojson"
	"github.com/mlship/mlship/internal/tracking"
)

func TestLoggedModelLifecycle(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		exp := mustExperiment(t, s, "lm")
		run := mustRun(t, s, tracking.CreateRunInput{ExperimentID: exp})
		m, err := s.CreateLoggedModel(ctx, tracking.CreateLoggedModelInput{ExperimentID: exp, Name: "model",
			SourceRunID: run.Info.RunID, Params: []tracking.Param{{Key: "alpha", Value: "0.1"}},
			Tags: []tracking.Tag{{Key: "team", Value: "fraud"}}})
		if err != nil {
			t.Fatal(err)
		}
		i := m.Info
		if i.Status != tracking.ModelStatusPending || len(i.ModelID) != 34 || i.ModelID[:2] != "m-" {
			t.Fatalf("new model: %+v", i)
		}
		if want := "mlflow-artifacts:/" + exp + "/models/" + i.ModelID + "/artifacts"; i.ArtifactURI != want {
			t.Fatalf("artifact_uri = %q, want %q", i.ArtifactURI, want)
		}
		if m, err = s.FinalizeLoggedModel(ctx, i.ModelID, tracking.ModelStatusReady); err != nil || m.Info.Status != tracking.ModelStatusReady {
			t.Fatalf("finalize: %v %v", m, err)
		}
		_, err = s.FinalizeLoggedModel(ctx, i.ModelID, tracking.ModelStatusPending)
		wantKind(t, err, fault.Invalid)

		// Metrics logged with the model's id belong to the model too.
		err = s.LogBatch(ctx, run.Info.RunID, tracking.Batch{Metrics: []tracking.Metric{
			{Key: "acc", Value: 0.9, Timestamp: 1, ModelID: i.ModelID}, {Key: "loss", Value: 0.3, Timestamp: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetLoggedModelTags(ctx, i.ModelID, []tracking.Tag{{Key: "stage", Value: "dev"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.LogLoggedModelParams(ctx, i.ModelID, []tracking.Param{{Key: "beta", Value: "2"}}); err != nil {
			t.Fatal(err)
		}
		m, err = s.GetLoggedModel(ctx, i.ModelID)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Data.Metrics) != 1 || m.Data.Metrics[0].Key != "acc" || m.Data.Metrics[0].RunID != run.Info.RunID {
			t.Fatalf("model metrics = %+v", m.Data.Metrics)
		}
		if len(m.Data.Params) != 2 || len(m.Info.Tags) != 2 {
			t.Fatalf("params %v, tags %v", m.Data.Params, m.Info.Tags)
		}
		wantKind(t, s.DeleteLoggedModelTag(ctx, i.ModelID, "nope"), fault.NotFound)
		if err := s.DeleteLoggedModelTag(ctx, i.ModelID, "stage"); err != nil {
			t.Fatal(err)
		}

		if err := s.LogOutputs(ctx, run.Info.RunID, []tracking.ModelOutput{{ModelID: i.ModelID, Step: 3}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRun(ctx, run.Info.RunID)
		if err != nil || got.Outputs == nil || got.Outputs.ModelOutputs[0] != (tracking.ModelOutput{ModelID: i.ModelID, Step: 3}) {
			t.Fatalf("run outputs: %+v, %v", got.Outputs, err)
		}

		if err := s.DeleteLoggedModel(ctx, i.ModelID); err != nil {
			t.Fatal(err)
		}
		_, err = s.GetLoggedModel(ctx, i.ModelID)
		wantKind(t, err, fault.NotFound)
	})
}

func TestLoggedModelNames(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		exp := mustExperiment(t, s, "names")
		for _, tc := range []struct {
			name string
			want fault.Kind
		}{{"", ok}, {"model", ok}, {"my-model_2", ok}, {"a/b", fault.Invalid}, {"a.b", fault.Invalid},
			{"a:b", fault.Invalid}, {"50%", fault.Invalid}, {`a"b`, fault.Invalid}, {"a'b", fault.Invalid}} {
			t.Run(tc.name, func(t *testing.T) {
				m, err := s.CreateLoggedModel(t.Context(), tracking.CreateLoggedModelInput{ExperimentID: exp, Name: tc.name})
				wantKind(t, err, tc.want)
				if err == nil && m.Info.Name == "" {
					t.Fatal("no name given and none generated")
				}
			})
		}
		_, err := s.CreateLoggedModel(t.Context(), tracking.CreateLoggedModelInput{ExperimentID: "424242"})
		wantKind(t, err, fault.NotFound)
	})
}

func TestSearchLoggedModels(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		exp := mustExperiment(t, s, "search-lm")
		run := mustRun(t, s, tracking.CreateRunInput{ExperimentID: exp})
		ids := map[string]string{}
		for i, name := range []string{"a", "b", "c"} {
			m, err := s.CreateLoggedModel(ctx, tracking.CreateLoggedModelInput{ExperimentID: exp, Name: name, SourceRunID: run.Info.RunID,
				Params: []tracking.Param{{Key: "n", Value: name}}})
			if err != nil {
				t.Fatal(err)
			}
			ids[name] = m.Info.ModelID
			err = s.LogBatch(ctx, run.Info.RunID, tracking.Batch{Metrics: []tracking.Metric{{Key: "acc", Value: protojson.Float(0.5 + 0.1*float64(i)), Timestamp: 1, ModelID: m.Info.ModelID}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			filter string
			order  []tracking.LoggedModelOrder
			want   []string
		}{
			{"name = 'b'", nil, []string{"b"}},
			{"metrics.acc > 0.55", []tracking.LoggedModelOrder{{FieldName: "metrics.acc", Ascending: false}}, []string{"c", "b"}},
			{"params.n != 'a'", []tracking.LoggedModelOrder{{FieldName: "name", Ascending: true}}, []string{"b", "c"}},
			{"", []tracking.LoggedModelOrder{{FieldName: "metrics.acc", Ascending: true}}, []string{"a", "b", "c"}},
		} {
			t.Run(tc.filter, func(t *testing.T) {
				models, _, err := s.SearchLoggedModels(ctx, tracking.SearchLoggedModelsQuery{ExperimentIDs: []string{exp},
					Filter: tc.filter, OrderBy: tc.order, MaxResults: 100})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range models {
					got = append(got, m.Info.Name)
				}
				if len(got) != len(tc.want) || (len(tc.order) > 0 && fmtList(got) != fmtList(tc.want)) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		page, next, err := s.SearchLoggedModels(ctx, tracking.SearchLoggedModelsQuery{ExperimentIDs: []string{exp}, MaxResults: 2})
		if err != nil || len(page) != 2 || next == "" {
			t.Fatalf("first page: %d models, next %q, %v", len(page), next, err)
		}
		rest, next, err := s.SearchLoggedModels(ctx, tracking.SearchLoggedModelsQuery{ExperimentIDs: []string{exp}, MaxResults: 2, PageToken: next})
		if err != nil || len(rest) != 1 || next != "" {
			t.Fatalf("second page: %d models, next %q, %v", len(rest), next, err)
		}
		_, _, err = s.SearchLoggedModels(ctx, tracking.SearchLoggedModelsQuery{ExperimentIDs: []string{exp}, Filter: "metrics.acc = 'x'", MaxResults: 10})
		wantKind(t, err, fault.Invalid)
	})
}

func fmtList(s []string) string { return strings.Join(s, ",") }

func TestRecordRegistration(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		exp := mustExperiment(t, s, "reg")
		m, err := s.CreateLoggedModel(ctx, tracking.CreateLoggedModelInput{ExperimentID: exp, Name: "model"})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"1", "2", "2"} {
			if err := s.RecordRegistration(ctx, m.Info.ModelID, "fraud", v); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.GetLoggedModel(ctx, m.Info.ModelID)
		if err != nil {
			t.Fatal(err)
		}
		want := `[{"name": "fraud", "version": "1"}, {"name": "fraud", "version": "2"}]`
		if len(got.Info.Tags) != 1 || got.Info.Tags[0] != (tracking.Tag{Key: tracking.TagModelVersions, Value: want}) {
			t.Fatalf("tags = %+v, want %s", got.Info.Tags, want)
		}
		wantKind(t, s.RecordRegistration(ctx, "m-00000000000000000000000000000000", "fraud", "1"), fault.NotFound)
	})
}
