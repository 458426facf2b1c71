package tracking_test

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/tracking"
)

// corpus is a set of runs to search: their ids by name, and the experiments they are in.
type corpus struct {
	ids       map[string]string
	exp, exp2 string
}

// names maps run ids back to names, in order.
func (c corpus) names(runs []*tracking.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Info.RunName
		if c.ids[r.Info.RunName] != r.Info.RunID {
			out[i] = "?" + r.Info.RunID
		}
	}
	return out
}

// expand replaces {name} in s with the run id of name.
func (c corpus) expand(s string) string {
	var pairs []string
	for name, id := range c.ids {
		pairs = append(pairs, "{"+name+"}", id)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// newCorpus logs, in one experiment: gamma (newest, no metrics), alpha (finished, acc 0.9,
// loss NaN), beta (acc 0.5, loss 0.3) and delta (deleted); in another, epsilon.
func newCorpus(t *testing.T, s *tracking.Service) corpus {
	ctx := t.Context()
	c := corpus{ids: map[string]string{}, exp: mustExperiment(t, s, "corpus"), exp2: mustExperiment(t, s, "corpus-2")}
	add := func(exp, name string, start int64, b tracking.Batch, ds ...tracking.DatasetInput) string {
		id := mustRun(t, s, tracking.CreateRunInput{ExperimentID: exp, RunName: name, StartTime: &start, UserID: "u-" + name}).Info.RunID
		mustLog(t, s, id, b)
		wantKind(t, s.LogInputs(ctx, id, ds, nil), ok)
		c.ids[name] = id
		return id
	}
	dataset := func(name, digest, context string) tracking.DatasetInput {
		return tracking.DatasetInput{Tags: []tracking.Tag{{Key: "mlflow.data.context", Value: context}},
			Dataset: tracking.Dataset{Name: name, Digest: digest, SourceType: "local", Source: "/data/" + name}}
	}
	p := func(k, v string) tracking.Param { return tracking.Param{Key: k, Value: v} }
	alpha := add(c.exp, "alpha", 3000, tracking.Batch{
		Metrics: []tracking.Metric{metric("acc", 0.9, 1, 0), metric("loss", nan, 1, 0)},
		Params:  []tracking.Param{p("lr", "0.1"), p("model", "CNN")},
		Tags:    []tracking.Tag{{Key: "team", Value: "Vision"}, {Key: "rank", Value: "2"}},
	}, dataset("train-ds", "d1", "training"))
	add(c.exp, "beta", 2000, tracking.Batch{
		Metrics: []tracking.Metric{metric("acc", 0.1, 1, 0), metric("acc", 0.5, 2, 1), metric("loss", 0.3, 1, 0)},
		Params:  []tracking.Param{p("lr", "0.01"), p("model", "cnn")},
		Tags:    []tracking.Tag{{Key: "team", Value: "vision"}, {Key: "rank", Value: "1"}},
	}, dataset("eval-ds", "d2", "evaluation"))
	add(c.exp, "gamma", 4000, tracking.Batch{Params: []tracking.Param{p("lr", "0.1")}})
	delta := add(c.exp, "delta", 500, tracking.Batch{Metrics: []tracking.Metric{metric("acc", 1, 1, 0)}})
	add(c.exp2, "epsilon", 5000, tracking.Batch{Metrics: []tracking.Metric{metric("acc", 0.7, 1, 0)}})
	if _, err := s.UpdateRun(ctx, tracking.UpdateRunInput{RunID: alpha, Status: tracking.StatusFinished, EndTime: ptr(int64(3500))}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, s.DeleteRun(ctx, delta), ok)
	return c
}

func TestSearchRunsFilter(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		c := newCorpus(t, s)
		for _, tc := range []struct {
			filter string
			want   string
		}{
			{"", "gamma alpha beta"},
			{"   ", "gamma alpha beta"},
			{"metrics.acc > 0.6", "alpha"},
			{"metrics.acc >= 0.5", "alpha beta"},
			{"metrics.acc = 0.5", "beta"},
			{"metrics.acc != 0.5", "alpha"},
			{"metrics.acc < 0.2", ""}, // beta's latest acc is 0.5, not its first point
			{"metrics.loss = 0", ""},  // a NaN is stored as 0, but is not 0
			{"metrics.loss != 0.3", "alpha"},
			{"metrics.loss < 1", "beta"},
			{"params.lr = '0.1'", "gamma alpha"},
			{"params.model LIKE 'C%'", "alpha"},
			{"params.model LIKE 'c%'", "beta"},
			{"params.model ILIKE 'c%'", "alpha beta"},
			{"params.model LIKE '_NN'", "alpha"},
			{"params.missing = 'x'", ""},
			{"tags.team = 'vision'", "beta"},
			{"tags.team ILIKE 'VISION'", "alpha beta"},
			{"tags.team != 'vision'", "alpha"},
			{`tags."team" = 'Vision'`, "alpha"},
			{"tags.`team` = 'Vision'", "alpha"},
			{"attributes.status = 'FINISHED'", "alpha"},
			{"attributes.status != 'FINISHED'", "gamma beta"},
			{"attributes.run_name = 'beta'", "beta"},
			{"run_name LIKE 'b%'", "beta"},
			{"attributes.user_id = 'u-gamma'", "gamma"},
			{"attributes.start_time >= 2000 AND attributes.start_time < 4000", "alpha beta"},
			{"attributes.end_time = 3500", "alpha"},
			{"attributes.run_id IN ('{alpha}', '{gamma}')", "gamma alpha"},
			{"attributes.run_id NOT IN ('{alpha}')", "gamma beta"},
			{"attributes.run_id = '{beta}'", "beta"},
			{"datasets.name = 'train-ds'", "alpha"},
			{"datasets.digest IN ('d1', 'd2')", "alpha beta"},
			{"datasets.context = 'training'", "alpha"},
			{"datasets.context != 'training'", "beta"},
			{"datasets.name LIKE '%-ds'", "alpha beta"},
			{"metrics.acc > 0.1 AND params.lr = '0.1'", "alpha"},
			{"metrics.acc > 0.1 and tags.team ILIKE 'vision' and params.model = 'cnn'", "beta"},
		} {
			t.Run(tc.filter, func(t *testing.T) {
				runs, next, err := s.SearchRuns(t.Context(), tracking.SearchRunsQuery{
					ExperimentIDs: []string{c.exp}, Filter: c.expand(tc.filter), MaxResults: 1000})
				wantKind(t, err, ok)
				if got := strings.Join(c.names(runs), " "); got != tc.want || next != "" {
					t.Errorf("got [%s] (next %q), want [%s]", got, next, tc.want)
				}
			})
		}
	})
}

func TestSearchRunsOrderAndScope(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		c := newCorpus(t, s)
		for _, tc := range []struct {
			name string
			q    tracking.SearchRunsQuery
			want string
		}{
			{"metric desc", tracking.SearchRunsQuery{OrderBy: []string{"metrics.acc DESC"}}, "alpha beta gamma"},
			{"metric asc", tracking.SearchRunsQuery{OrderBy: []string{"metrics.acc ASC"}}, "beta alpha gamma"},
			// NaN sorts after every number and before a missing value, in both directions.
			{"NaN and missing last, desc", tracking.SearchRunsQuery{OrderBy: []string{"metrics.loss DESC"}}, "beta alpha gamma"},
			{"NaN and missing last, asc", tracking.SearchRunsQuery{OrderBy: []string{"metrics.loss"}}, "beta alpha gamma"},
			{"param asc", tracking.SearchRunsQuery{OrderBy: []string{"params.lr ASC"}}, "beta gamma alpha"},
			{"param desc, then start_time", tracking.SearchRunsQuery{OrderBy: []string{"params.lr DESC", "start_time ASC"}}, "alpha gamma beta"},
			{"tag asc, missing last", tracking.SearchRunsQuery{OrderBy: []string{"tags.rank ASC"}}, "beta alpha gamma"},
			{"tag desc, missing last", tracking.SearchRunsQuery{OrderBy: []string{"tags.rank DESC"}}, "alpha beta gamma"},
			{"start_time asc", tracking.SearchRunsQuery{OrderBy: []string{"attributes.start_time ASC"}}, "beta alpha gamma"},
			{"bare start_time desc", tracking.SearchRunsQuery{OrderBy: []string{"start_time DESC"}}, "gamma alpha beta"},
			{"created alias", tracking.SearchRunsQuery{OrderBy: []string{"attributes.created"}}, "beta alpha gamma"},
			{"end_time, nulls last", tracking.SearchRunsQuery{OrderBy: []string{"attributes.end_time DESC"}}, "alpha gamma beta"},
			{"two keys", tracking.SearchRunsQuery{OrderBy: []string{"params.lr ASC", "metrics.acc DESC"}}, "beta alpha gamma"},
			{"run_name", tracking.SearchRunsQuery{OrderBy: []string{"attributes.run_name"}}, "alpha beta gamma"},
			{"deleted only", tracking.SearchRunsQuery{ViewType: tracking.ViewDeletedOnly}, "delta"},
			{"all", tracking.SearchRunsQuery{ViewType: tracking.ViewAll}, "gamma alpha beta delta"},
			{"active only", tracking.SearchRunsQuery{ViewType: tracking.ViewActiveOnly}, "gamma alpha beta"},
			{"two experiments", tracking.SearchRunsQuery{ExperimentIDs: []string{c.exp, c.exp2}}, "epsilon gamma alpha beta"},
			{"no experiments", tracking.SearchRunsQuery{ExperimentIDs: []string{}}, ""},
			{"missing experiment", tracking.SearchRunsQuery{ExperimentIDs: []string{"424242"}}, ""},
			{"max_results 2", tracking.SearchRunsQuery{MaxResults: 2}, "gamma alpha"},
			{"max_results 50000", tracking.SearchRunsQuery{MaxResults: 50000}, "gamma alpha beta"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.q.ExperimentIDs == nil {
					tc.q.ExperimentIDs = []string{c.exp}
				}
				if tc.q.MaxResults == 0 {
					tc.q.MaxResults = 1000
				}
				runs, _, err := s.SearchRuns(t.Context(), tc.q)
				wantKind(t, err, ok)
				if got := strings.Join(c.names(runs), " "); got != tc.want {
					t.Errorf("got [%s], want [%s]", got, tc.want)
				}
			})
		}
	})
}

func TestSearchRunsReturnsFullRuns(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		c := newCorpus(t, s)
		runs, _, err := s.SearchRuns(t.Context(), tracking.SearchRunsQuery{ExperimentIDs: []string{c.exp}, Filter: "run_name = 'alpha'", MaxResults: 10})
		wantKind(t, err, ok)
		if len(runs) != 1 {
			t.Fatalf("got %d runs", len(runs))
		}
		r := runs[0]
		acc, _ := latest(r, "acc")
		loss, _ := latest(r, "loss")
		ins := r.Inputs.DatasetInputs
		if acc.Value != 0.9 || !sameFloat(float64(loss.Value), nan) || paramsOf(r)["model"] != "CNN" || tagsOf(r)["team"] != "Vision" ||
			len(ins) != 1 || ins[0].Dataset.Name != "train-ds" || len(ins[0].Tags) != 1 || ins[0].Tags[0].Value != "training" {
			t.Errorf("search result lacks the run's data: %+v", r)
		}
		// Logging the same dataset again records it once.
		wantKind(t, s.LogInputs(t.Context(), c.ids["alpha"], ins, nil), ok)
		if got := mustGetRun(t, s, c.ids["alpha"]); len(got.Inputs.DatasetInputs) != 1 {
			t.Errorf("dataset inputs after re-logging = %+v", got.Inputs.DatasetInputs)
		}
	})
}

func TestSearchRunsErrors(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		c := newCorpus(t, s)
		for _, tc := range []struct {
			name string
			q    tracking.SearchRunsQuery
		}{
			{"metric against a string", tracking.SearchRunsQuery{Filter: "metrics.acc = 'x'"}},
			{"param against a number", tracking.SearchRunsQuery{Filter: "params.lr = 0.1"}},
			{"garbage", tracking.SearchRunsQuery{Filter: "foo bar baz"}},
			{"OR", tracking.SearchRunsQuery{Filter: "metrics.acc > 1 OR metrics.acc < 0"}},
			{"unknown attribute", tracking.SearchRunsQuery{Filter: "attributes.color = 'red'"}},
			{"IN on a param", tracking.SearchRunsQuery{Filter: "params.lr IN ('0.1')"}},
			{"LIKE on a metric", tracking.SearchRunsQuery{Filter: "metrics.acc LIKE '0%'"}},
			{"bad order direction", tracking.SearchRunsQuery{OrderBy: []string{"metrics.acc SIDEWAYS"}}},
			{"order by dataset", tracking.SearchRunsQuery{OrderBy: []string{"datasets.name"}}},
			{"duplicate order key", tracking.SearchRunsQuery{OrderBy: []string{"metrics.acc", "metrics.acc DESC"}}},
			{"max_results 50001", tracking.SearchRunsQuery{MaxResults: 50001}},
			{"max_results -1", tracking.SearchRunsQuery{MaxResults: -1}},
			{"max_results 0", tracking.SearchRunsQuery{MaxResults: 0}},
			{"bad page token", tracking.SearchRunsQuery{PageToken: "%%%"}},
			{"negative offset", tracking.SearchRunsQuery{PageToken: "eyJvZmZzZXQiOiAtMX0="}},
			{"bad view type", tracking.SearchRunsQuery{ViewType: "SOME"}},
			{"malformed experiment id", tracking.SearchRunsQuery{ExperimentIDs: []string{"../1"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.q.ExperimentIDs == nil {
					tc.q.ExperimentIDs = []string{c.exp}
				}
				if tc.q.MaxResults == 0 && tc.name != "max_results 0" {
					tc.q.MaxResults = 1000
				}
				_, _, err := s.SearchRuns(t.Context(), tc.q)
				wantKind(t, err, fault.Invalid)
			})
		}
	})
}

func TestSearchRunsPaging(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		exp := mustExperiment(t, s, "paging")
		type entry struct {
			id    string
			start int64
		}
		var want []entry
		for i := range 57 {
			start := int64(i / 3) // ties, broken by run id
			id := mustRun(t, s, tracking.CreateRunInput{ExperimentID: exp, RunName: "r" + strconv.Itoa(i), StartTime: &start}).Info.RunID
			want = append(want, entry{id, start})
		}
		slices.SortFunc(want, func(a, b entry) int { return cmp.Or(cmp.Compare(b.start, a.start), cmp.Compare(a.id, b.id)) })
		var got []string
		token, pages := "", 0
		for {
			runs, next, err := s.SearchRuns(t.Context(), tracking.SearchRunsQuery{ExperimentIDs: []string{exp}, MaxResults: 10, PageToken: token})
			wantKind(t, err, ok)
			pages++
			if want := min(10, 57-len(got)); len(runs) != want {
				t.Fatalf("page %d has %d runs, want %d", pages, len(runs), want)
			}
			for _, r := range runs {
				got = append(got, r.Info.RunID)
			}
			if token = next; token == "" || pages > 6 {
				break
			}
		}
		if pages != 6 {
			t.Errorf("%d pages, want 6", pages)
		}
		wantIDs := make([]string, len(want))
		for i, e := range want {
			wantIDs[i] = e.id
		}
		if !slices.Equal(got, wantIDs) {
			t.Errorf("paged ids =\n%v\nwant\n%v", got, wantIDs)
		}
	})
}

func TestSearchExperiments(t *testing.T) {
	conform(t, func(t *testing.T, s *tracking.Service) {
		ctx := t.Context()
		team := func(v string) tracking.Tag { return tracking.Tag{Key: "team", Value: v} }
		mustExperiment(t, s, "se-a", team("x"))
		mustExperiment(t, s, "se-b", team("y"))
		mustExperiment(t, s, "se-c", team("x"))
		gone := mustExperiment(t, s, "se-d", team("x"))
		mustExperiment(t, s, "SE-E")
		wantKind(t, s.DeleteExperiment(ctx, gone), ok)

		for _, tc := range []struct {
			name string
			q    tracking.SearchExperimentsQuery
			want string
		}{
			{"like is case-sensitive", tracking.SearchExperimentsQuery{Filter: "name LIKE 'se-%'", OrderBy: []string{"name"}}, "se-a se-b se-c"},
			{"ilike", tracking.SearchExperimentsQuery{Filter: "name ILIKE 'se-%'", OrderBy: []string{"experiment_id DESC"}}, "SE-E se-c se-b se-a"},
			{"equal", tracking.SearchExperimentsQuery{Filter: "attribute.name = 'se-b'"}, "se-b"},
			{"tag", tracking.SearchExperimentsQuery{Filter: "tags.team = 'x'", OrderBy: []string{"name"}}, "se-a se-c"},
			{"tag and name", tracking.SearchExperimentsQuery{Filter: "tags.team = 'x' AND name != 'se-a'"}, "se-c"},
			{"creation_time", tracking.SearchExperimentsQuery{Filter: "creation_time >= 0 AND name LIKE 'se-%'", OrderBy: []string{"experiment_id"}}, "se-a se-b se-c"},
			{"deleted only", tracking.SearchExperimentsQuery{ViewType: tracking.ViewDeletedOnly}, "se-d"},
			{"all", tracking.SearchExperimentsQuery{ViewType: tracking.ViewAll, Filter: "tags.team = 'x'", OrderBy: []string{"name"}}, "se-a se-c se-d"},
			{"max_results", tracking.SearchExperimentsQuery{MaxResults: 2, OrderBy: []string{"experiment_id ASC"}}, "Default se-a"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.q.MaxResults == 0 {
					tc.q.MaxResults = 1000
				}
				exps, _, err := s.SearchExperiments(ctx, tc.q)
				wantKind(t, err, ok)
				if got := expNames(exps); got != tc.want {
					t.Errorf("got [%s], want [%s]", got, tc.want)
				}
			})
		}

		t.Run("default order", func(t *testing.T) {
			exps, _, err := s.SearchExperiments(ctx, tracking.SearchExperimentsQuery{ViewType: tracking.ViewAll, MaxResults: 100})
			wantKind(t, err, ok)
			if len(exps) != 6 {
				t.Fatalf("got %d experiments, want 6", len(exps))
			}
			sorted := slices.IsSortedFunc(exps, func(a, b *tracking.Experiment) int {
				ai, _ := strconv.Atoi(a.ExperimentID)
				bi, _ := strconv.Atoi(b.ExperimentID)
				return cmp.Or(cmp.Compare(b.CreationTime, a.CreationTime), cmp.Compare(ai, bi))
			})
			if !sorted {
				t.Errorf("not newest first: %v", exps)
			}
		})

		t.Run("paging", func(t *testing.T) {
			var got []string
			token := ""
			for range 10 {
				exps, next, err := s.SearchExperiments(ctx, tracking.SearchExperimentsQuery{
					ViewType: tracking.ViewAll, MaxResults: 2, OrderBy: []string{"experiment_id"}, PageToken: token})
				wantKind(t, err, ok)
				got = append(got, expNames(exps))
				if token = next; token == "" {
					break
				}
			}
			if want := []string{"Default se-a", "se-b se-c", "se-d SE-E"}; !slices.Equal(got, want) {
				t.Errorf("pages = %q, want %q", got, want)
			}
		})

		for _, tc := range []struct {
			name string
			q    tracking.SearchExperimentsQuery
		}{
			{"garbage filter", tracking.SearchExperimentsQuery{Filter: "name is 'x'"}},
			{"metrics in experiments", tracking.SearchExperimentsQuery{Filter: "metrics.acc > 1"}},
			{"string against number", tracking.SearchExperimentsQuery{Filter: "creation_time > 'x'"}},
			{"bad order key", tracking.SearchExperimentsQuery{OrderBy: []string{"color"}}},
			{"bad order direction", tracking.SearchExperimentsQuery{OrderBy: []string{"name SIDEWAYS"}}},
			{"max_results 50001", tracking.SearchExperimentsQuery{MaxResults: 50001}},
			{"max_results -5", tracking.SearchExperimentsQuery{MaxResults: -5}},
			{"max_results 0", tracking.SearchExperimentsQuery{MaxResults: 0}},
			{"bad token", tracking.SearchExperimentsQuery{PageToken: "e30="}},
			{"bad view type", tracking.SearchExperimentsQuery{ViewType: "EVERYTHING"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.q.MaxResults == 0 && tc.name != "max_results 0" {
					tc.q.MaxResults = 10
				}
				_, _, err := s.SearchExperiments(ctx, tc.q)
				wantKind(t, err, fault.Invalid)
			})
		}
	})
}

func expNames(exps []*tracking.Experiment) string {
	names := make([]string, len(exps))
	for i, e := range exps {
		names[i] = e.Name
	}
	return strings.Join(names, " ")
}
