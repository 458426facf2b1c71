package tracking_test

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

var (
	runIDForm         = regexp.MustCompile(`^[0-9a-f]{32}$`)
	generatedNameForm = regexp.MustCompile(`^[a-z]+-[a-z]+-\d{1,3}$`)
)

func TestCreateRun(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		exp := mustExperiment(t, s, "create-run")
		nameTag := func(v string) tracking.Tag { return tracking.Tag{Key: tracking.TagRunName, Value: v} }
		for _, tc := range []struct {
			name     string
			in       tracking.CreateRunInput
			want     fault.Kind
			wantName string // "" means a generated name
		}{
			{"run_name", tracking.CreateRunInput{ExperimentID: exp, RunName: "alpha"}, ok, "alpha"},
			{"name tag", tracking.CreateRunInput{ExperimentID: exp, Tags: []tracking.Tag{nameTag("beta")}}, ok, "beta"},
			{"both agree", tracking.CreateRunInput{ExperimentID: exp, RunName: "gamma", Tags: []tracking.Tag{nameTag("gamma")}}, ok, "gamma"},
			{"generated", tracking.CreateRunInput{ExperimentID: exp}, ok, ""},
			{"default experiment", tracking.CreateRunInput{RunName: "in-default"}, ok, "in-default"},
			{"both conflict", tracking.CreateRunInput{ExperimentID: exp, RunName: "a", Tags: []tracking.Tag{nameTag("b")}}, fault.Invalid, ""},
			{"missing experiment", tracking.CreateRunInput{ExperimentID: "424242"}, fault.NotFound, ""},
			{"malformed experiment", tracking.CreateRunInput{ExperimentID: "a/b"}, fault.Invalid, ""},
			{"bad tag key", tracking.CreateRunInput{ExperimentID: exp, Tags: []tracking.Tag{{Key: "../t", Value: "v"}}}, fault.Invalid, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.in.UserID = "ann"
				tc.in.StartTime = ptr(int64(1234))
				tc.in.Tags = append(tc.in.Tags, tracking.Tag{Key: "extra", Value: "x"})
				r, err := s.CreateRun(t.Context(), tc.in)
				wantKind(t, err, tc.want)
				if err != nil {
					return
				}
				i := r.Info
				wantExp := tc.in.ExperimentID
				if wantExp == "" {
					wantExp = tracking.DefaultExperimentID
				}
				if !runIDForm.MatchString(i.RunID) || i.RunUUID != i.RunID || i.ExperimentID != wantExp ||
					i.Status != tracking.StatusRunning || i.LifecycleStage != tracking.StageActive ||
					i.UserID != "ann" || i.StartTime == nil || *i.StartTime != 1234 || i.EndTime != nil {
					t.Errorf("created run info = %+v", i)
				}
				switch {
				case tc.wantName == "" && !generatedNameForm.MatchString(i.RunName):
					t.Errorf("generated name %q is not adjective-noun-number", i.RunName)
				case tc.wantName != "" && i.RunName != tc.wantName:
					t.Errorf("run name = %q, want %q", i.RunName, tc.wantName)
				}
				got := mustGetRun(t, s, i.RunID)
				if got.Info.RunName != i.RunName || got.Info.ArtifactURI != i.ArtifactURI || *got.Info.StartTime != 1234 {
					t.Errorf("GetRun info = %+v, created %+v", got.Info, i)
				}
				tags := tagsOf(got)
				if tags[tracking.TagRunName] != i.RunName || tags["extra"] != "x" || len(tags) != 2 {
					t.Errorf("tags = %v", tags)
				}
			})
		}
	})
}

func TestGetRunErrors(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		for _, tc := range []struct{ id string }{{"f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"}, {"missing"}} {
			_, err := s.GetRun(t.Context(), tc.id)
			wantKind(t, err, fault.NotFound)
		}
		for _, id := range []string{"", "../x", "a b", strings.Repeat("a", 257)} {
			_, err := s.GetRun(t.Context(), id)
			wantKind(t, err, fault.Invalid)
		}
	})
}

func TestUpdateRun(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		r := mustRun(t, s, tracking.CreateRunInput{RunName: "before"})
		id := r.Info.RunID
		info, err := s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: id, Status: tracking.StatusFinished, EndTime: ptr(int64(99)), RunName: "after"})
		wantKind(t, err, ok)
		if info.Status != tracking.StatusFinished || info.EndTime == nil || *info.EndTime != 99 || info.RunName != "after" {
			t.Errorf("UpdateRun = %+v", info)
		}
		got := mustGetRun(t, s, id)
		if got.Info.Status != tracking.StatusFinished || tagsOf(got)[tracking.TagRunName] != "after" {
			t.Errorf("after update: info %+v, tags %v", got.Info, tagsOf(got))
		}
		// An empty update changes nothing.
		info, err = s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: id})
		wantKind(t, err, ok)
		if info.Status != tracking.StatusFinished || info.RunName != "after" || *info.EndTime != 99 {
			t.Errorf("empty update changed the run: %+v", info)
		}
		for _, st := range tracking.RunStatuses {
			info, err := s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: id, Status: st})
			wantKind(t, err, ok)
			if info.Status != st {
				t.Errorf("status = %s, want %s", info.Status, st)
			}
		}
		_, err = s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: id, Status: "BOGUS"})
		wantKind(t, err, fault.Invalid)
		_, err = s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0", Status: tracking.StatusFinished})
		wantKind(t, err, fault.NotFound)
		// SetTag of the name tag renames the run too.
		wantKind(t, s.SetTag(ctx, id, tracking.Tag{Key: tracking.TagRunName, Value: "by-tag"}), ok)
		if got := mustGetRun(t, s, id); got.Info.RunName != "by-tag" {
			t.Errorf("run name after SetTag = %q", got.Info.RunName)
		}
	})
}

func TestRunTags(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "tags"}).Info.RunID
		wantKind(t, s.SetTag(ctx, id, tracking.Tag{Key: "k", Value: "1"}), ok)
		wantKind(t, s.SetTag(ctx, id, tracking.Tag{Key: "k", Value: "2"}), ok)
		if v := tagsOf(mustGetRun(t, s, id))["k"]; v != "2" {
			t.Errorf("tag k = %q, want the overwrite 2", v)
		}
		wantKind(t, s.DeleteTag(ctx, id, "k"), ok)
		wantKind(t, s.DeleteTag(ctx, id, "k"), fault.NotFound)
		wantKind(t, s.DeleteTag(ctx, id, ""), fault.Invalid)
		if _, found := tagsOf(mustGetRun(t, s, id))["k"]; found {
			t.Error("deleted tag is still there")
		}
		// In one batch the last value of a key wins.
		mustLog(t, s, id, tracking.Batch{Tags: []tracking.Tag{{Key: "b", Value: "1"}, {Key: "b", Value: "2"}}})
		if v := tagsOf(mustGetRun(t, s, id))["b"]; v != "2" {
			t.Errorf("batch tag b = %q, want the last value 2", v)
		}
	})
}

func TestDeletedRunRefusesWrites(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "doomed", Tags: []tracking.Tag{{Key: "t", Value: "v"}}}).Info.RunID
		wantKind(t, s.DeleteRun(ctx, id), ok)
		if got := mustGetRun(t, s, id); got.Info.LifecycleStage != tracking.StageDeleted {
			t.Fatalf("stage after delete = %s", got.Info.LifecycleStage)
		}
		ds := []tracking.DatasetInput{{Dataset: tracking.Dataset{Name: "d", Digest: "1", SourceType: "local", Source: "x"}}}
		for _, tc := range []struct {
			name string
			call func() error
		}{
			{"LogMetric", func() error { return s.LogMetric(ctx, id, metric("m", 1, 1, 0)) }},
			{"LogParam", func() error { return s.LogParam(ctx, id, tracking.Param{Key: "p", Value: "v"}) }},
			{"SetTag", func() error { return s.SetTag(ctx, id, tracking.Tag{Key: "k", Value: "v"}) }},
			{"DeleteTag", func() error { return s.DeleteTag(ctx, id, "t") }},
			{"LogBatch", func() error { return s.LogBatch(ctx, id, tracking.Batch{Tags: []tracking.Tag{{Key: "k", Value: "v"}}}) }},
			{"LogInputs", func() error { return s.LogInputs(ctx, id, ds, nil) }},
			{"UpdateRun", func() error {
				_, err := s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: id, Status: tracking.StatusFinished})
				return err
			}},
		} {
			t.Run(tc.name, func(t *testing.T) { wantKind(t, tc.call(), fault.Invalid) })
		}
		got := mustGetRun(t, s, id)
		if len(got.Data.Metrics) != 0 || len(got.Data.Params) != 0 || tagsOf(got)["t"] != "v" || got.Info.Status != tracking.StatusRunning {
			t.Errorf("a deleted run was changed: %+v", got)
		}
		wantKind(t, s.RestoreRun(ctx, id), ok)
		wantKind(t, s.LogMetric(ctx, id, metric("m", 1, 1, 0)), ok)
		wantKind(t, s.DeleteRun(ctx, "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0"), fault.NotFound)
		wantKind(t, s.RestoreRun(ctx, "../x"), fault.Invalid)
	})
}

func TestLogBatchLimits(t *testing.T) {
	metrics := func(n int) []tracking.Metric {
		out := make([]tracking.Metric, n)
		for i := range out {
			out[i] = metric("m"+strconv.Itoa(i), float64(i), 1, 0)
		}
		return out
	}
	params := func(n int) []tracking.Param {
		out := make([]tracking.Param, n)
		for i := range out {
			out[i] = tracking.Param{Key: "p" + strconv.Itoa(i), Value: "v"}
		}
		return out
	}
	tags := func(n int) []tracking.Tag {
		out := make([]tracking.Tag, n)
		for i := range out {
			out[i] = tracking.Tag{Key: "t" + strconv.Itoa(i), Value: "v"}
		}
		return out
	}
	conform(t, func(t *testing.T, s *tracking.Service) {
		for _, tc := range []struct {
			name string
			b    tracking.Batch
			want fault.Kind
		}{
			{"1000 metrics", tracking.Batch{Metrics: metrics(1000)}, ok},
			{"1001 metrics", tracking.Batch{Metrics: metrics(1001)}, fault.Invalid},
			{"100 params", tracking.Batch{Params: params(100)}, ok},
			{"101 params", tracking.Batch{Params: params(101)}, fault.Invalid},
			{"100 tags", tracking.Batch{Tags: tags(100)}, ok},
			{"101 tags", tracking.Batch{Tags: tags(101)}, fault.Invalid},
			{"1000 entities", tracking.Batch{Metrics: metrics(800), Params: params(100), Tags: tags(100)}, ok},
			{"1001 entities", tracking.Batch{Metrics: metrics(1000), Tags: tags(1)}, fault.Invalid},
			{"empty", tracking.Batch{}, ok},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := mustRun(t, s, tracking.CreateRunInput{RunName: "limits"}).Info.RunID
				wantKind(t, s.LogBatch(t.Context(), id, tc.b), tc.want)
				got := mustGetRun(t, s, id)
				wantM, wantP, wantT := len(tc.b.Metrics), len(tc.b.Params), len(tc.b.Tags)
				if tc.want != ok {
					wantM, wantP, wantT = 0, 0, 0
				}
				if len(got.Data.Metrics) != wantM || len(got.Data.Params) != wantP || len(got.Data.Tags) != wantT+1 {
					t.Errorf("stored %d metrics, %d params, %d tags; want %d, %d, %d+1",
						len(got.Data.Metrics), len(got.Data.Params), len(got.Data.Tags), wantM, wantP, wantT)
				}
			})
		}
	})
}

func TestParamImmutability(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		p := func(k, v string) tracking.Param { return tracking.Param{Key: k, Value: v} }
		for _, tc := range []struct {
			name  string
			first []tracking.Param // logged first, must succeed
			then  tracking.Batch
			want  fault.Kind
		}{
			{"same value again", []tracking.Param{p("lr", "0.1")}, tracking.Batch{Params: []tracking.Param{p("lr", "0.1")}}, ok},
			{"different value", []tracking.Param{p("lr", "0.1")}, tracking.Batch{Params: []tracking.Param{p("lr", "0.2")}}, fault.Invalid},
			{"duplicate keys, different values", nil, tracking.Batch{Params: []tracking.Param{p("d", "1"), p("d", "2")}}, fault.Invalid},
			{"duplicate keys, same value", nil, tracking.Batch{Params: []tracking.Param{p("d", "1"), p("d", "1")}}, fault.Invalid},
			{"change beside new entities", []tracking.Param{p("lr", "0.1")}, tracking.Batch{
				Params:  []tracking.Param{p("new", "x"), p("lr", "0.2")},
				Metrics: []tracking.Metric{metric("m", 1, 1, 0)},
				Tags:    []tracking.Tag{{Key: "t", Value: "v"}},
			}, fault.Invalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id := mustRun(t, s, tracking.CreateRunInput{RunName: "params"}).Info.RunID
				for _, fp := range tc.first {
					wantKind(t, s.LogParam(ctx, id, fp), ok)
				}
				wantKind(t, s.LogBatch(ctx, id, tc.then), tc.want)
				got := mustGetRun(t, s, id)
				want := map[string]string{}
				for _, fp := range tc.first {
					want[fp.Key] = fp.Value
				}
				if tc.want == ok {
					for _, bp := range tc.then.Params {
						want[bp.Key] = bp.Value
					}
				}
				if gotP := paramsOf(got); !maps.Equal(gotP, want) {
					t.Errorf("params = %v, want %v", gotP, want)
				}
				if tc.want != ok && (len(got.Data.Metrics) != 0 || len(got.Data.Tags) != 1) {
					t.Errorf("a refused batch wrote metrics %v or tags %v", got.Data.Metrics, got.Data.Tags)
				}
			})
		}
	})
}

func TestKeyValidation(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		exp := mustExperiment(t, s, "keys")
		id := mustRun(t, s, tracking.CreateRunInput{ExperimentID: exp, RunName: "keys"}).Info.RunID
		for _, tc := range []struct {
			key  string
			want fault.Kind
		}{
			{strings.Repeat("k", 250), ok},
			{strings.Repeat("k", 251), fault.Invalid},
			{"a b:c/d.e-f", ok},
			{"précision", ok},
			{"准确率/top_1", ok},
			{"../x", fault.Invalid},
			{"..x", fault.Invalid},
			{"/x", fault.Invalid},
			{"a//b", fault.Invalid},
			{"a/./b", fault.Invalid},
			{"a/", fault.Invalid},
			{".", fault.Invalid},
			{"a/../b", fault.Invalid},
			{"semi;colon", fault.Invalid},
			{"quote'd", fault.Invalid},
			{"tab\tkey", fault.Invalid},
			{"", fault.Invalid},
		} {
			t.Run(abbrev(tc.key), func(t *testing.T) {
				for kind, b := range map[string]tracking.Batch{
					"metric": {Metrics: []tracking.Metric{metric(tc.key, 1, 1, 0)}},
					"param":  {Params: []tracking.Param{{Key: tc.key, Value: "v"}}},
					"tag":    {Tags: []tracking.Tag{{Key: tc.key, Value: "v"}}},
				} {
					if err := s.LogBatch(ctx, id, b); (tc.want == ok) != (err == nil) || (err != nil && fault.KindOf(err) != tc.want) {
						t.Errorf("%s key %q: err = %v, want %v", kind, tc.key, err, tc.want)
					}
				}
				wantKind(t, s.SetExperimentTag(ctx, exp, tracking.Tag{Key: tc.key, Value: "v"}), tc.want)
				if tc.want != ok {
					return
				}
				got := mustGetRun(t, s, id)
				_, hasMetric := latest(got, tc.key)
				if !hasMetric || paramsOf(got)[tc.key] != "v" || tagsOf(got)[tc.key] != "v" {
					t.Errorf("accepted key %q was not stored", tc.key)
				}
			})
		}
	})
}

func TestValueTruncation(t *testing.T) {
	conformStrict(t, func(t *testing.T, s, strict *tracking.Service) {
		ctx := t.Context()
		long := func(n int) string { return strings.Repeat("é", n) }
		id := mustRun(t, s, tracking.CreateRunInput{RunName: "long", Tags: []tracking.Tag{{Key: "create", Value: long(8001)}}}).Info.RunID
		wantKind(t, s.LogParam(ctx, id, tracking.Param{Key: "exact", Value: long(6000)}), ok)
		wantKind(t, s.LogParam(ctx, id, tracking.Param{Key: "over", Value: long(6001)}), ok)
		wantKind(t, s.SetTag(ctx, id, tracking.Tag{Key: "set", Value: long(8001)}), ok)
		mustLog(t, s, id, tracking.Batch{Params: []tracking.Param{{Key: "batch", Value: long(7000)}},
			Tags: []tracking.Tag{{Key: "batch", Value: long(9000)}}})
		// Re-logging the untruncated value is the same value.
		wantKind(t, s.LogParam(ctx, id, tracking.Param{Key: "over", Value: long(6001)}), ok)
		got := mustGetRun(t, s, id)
		params, tags := paramsOf(got), tagsOf(got)
		for name, tc := range map[string]struct {
			got  string
			want int
		}{
			"param exact": {params["exact"], 6000}, "param over": {params["over"], 6000},
			"param batch": {params["batch"], 6000}, "tag create": {tags["create"], 8000},
			"tag set": {tags["set"], 8000}, "tag batch": {tags["batch"], 8000},
		} {
			if tc.got != long(tc.want) {
				t.Errorf("%s: %d runes stored, want %d", name, len([]rune(tc.got)), tc.want)
			}
		}

		sid := mustRun(t, strict, tracking.CreateRunInput{RunName: "strict"}).Info.RunID
		wantKind(t, strict.LogParam(ctx, sid, tracking.Param{Key: "p", Value: long(6000)}), ok)
		wantKind(t, strict.LogParam(ctx, sid, tracking.Param{Key: "q", Value: long(6001)}), fault.Invalid)
		wantKind(t, strict.SetTag(ctx, sid, tracking.Tag{Key: "t", Value: long(8001)}), fault.Invalid)
	})
}
