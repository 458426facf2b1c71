package genaidata_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/genaidata"
	"github.com/mlship/mlship/internal/search/sqlsearch"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
	"github.com/mlship/mlship/internal/tracking"
)

type env struct {
	t          *testing.T
	tr         *tracking.Service
	s          *genaidata.Service
	exp, other string
}

// each runs fn on every engine with two experiments.
func each(t *testing.T, fn func(e *env)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		tr := tracking.New(db, tracking.Options{ArtifactRoot: "mlflow-artifacts:/"})
		if err := tr.Init(ctx); err != nil {
			t.Fatal(err)
		}
		e := &env{t: t, tr: tr, s: genaidata.New(db, tr)}
		var err error
		if e.exp, err = tr.CreateExperiment(ctx, "genai", "", nil); err != nil {
			t.Fatal(err)
		}
		if e.other, err = tr.CreateExperiment(ctx, "other", "", nil); err != nil {
			t.Fatal(err)
		}
		fn(e)
	})
}

func (e *env) create(name string, tags string, exps ...string) *genaidata.Dataset {
	e.t.Helper()
	tg, err := genaidata.ParseTags(tags)
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.s.CreateDataset(e.t.Context(), name, tg, exps)
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	return d
}

func (e *env) upsert(id, records string) (int, int) {
	e.t.Helper()
	recs, err := genaidata.ParseRecords(records)
	if err != nil {
		e.t.Fatal(err)
	}
	ins, upd, err := e.s.UpsertRecords(e.t.Context(), id, recs)
	if err != nil {
		e.t.Fatalf("upsert: %v", err)
	}
	return ins, upd
}

func wantKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	if fault.KindOf(err) != k {
		t.Errorf("got %v, want a %v error", err, k)
	}
}

func TestDatasetLifecycle(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		d := e.create("qa", `{"team": "fraud", "mlflow.user": "ada", "n": 3}`, e.exp)
		if d.Tags["team"] != "fraud" || d.Tags["n"] != "3" || d.CreatedBy != "ada" || len(d.ExperimentIDs) != 1 || d.ExperimentIDs[0] != e.exp {
			t.Errorf("created %+v", d)
		}
		if !strings.HasPrefix(d.ID, "d-") || len(d.Digest) != 8 {
			t.Errorf("id %q digest %q", d.ID, d.Digest)
		}
		if err := e.s.SetTags(ctx, d.ID, genaidata.Tags{"team": nil, "stage": ptr("dev")}); err != nil {
			t.Fatal(err)
		}
		if err := e.s.DeleteTag(ctx, d.ID, "n"); err != nil {
			t.Fatal(err)
		}
		got, err := e.s.GetDataset(ctx, d.ID)
		if err != nil || fmt.Sprint(got.Tags) != "map[mlflow.user:ada stage:dev]" {
			t.Errorf("tags %v %v", got.Tags, err)
		}
		if got, err = e.s.AddExperiments(ctx, d.ID, []string{e.other, e.exp}); err != nil || len(got.ExperimentIDs) != 2 {
			t.Errorf("add experiments: %v %v", got, err)
		}
		if got, err = e.s.RemoveExperiments(ctx, d.ID, []string{e.exp}); err != nil || fmt.Sprint(got.ExperimentIDs) != "["+e.other+"]" {
			t.Errorf("remove experiments: %v %v", got, err)
		}
		if err := e.s.DeleteDataset(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.GetDataset(ctx, d.ID)
		wantKind(t, err, fault.NotFound)
		if err := e.s.DeleteDataset(ctx, d.ID); err != nil {
			t.Errorf("deleting again: %v", err)
		}
	})
}

func ptr(s string) *string { return &s }

func TestRecordsMergeByInputs(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		d := e.create("qa", "", e.exp)
		ins, upd := e.upsert(d.ID, `[
			{"inputs": {"q": "2+2", "n": 1.50}, "expectations": {"answer": "4"}, "source": {"source_type": "HUMAN", "source_data": {}}},
			{"inputs": {"q": "capital"}, "outputs": "Paris", "tags": {"mlflow.user": "ada"},
			 "source": {"source_type": "TRACE", "source_data": {"trace_id": "tr-1"}}}]`)
		if ins != 2 || upd != 0 {
			t.Errorf("first merge: %d inserted, %d updated", ins, upd)
		}
		// The same inputs, keys in another order: expectations and tags merge, outputs replace.
		ins, upd = e.upsert(d.ID, `[{"inputs": {"n": 1.50, "q": "2+2"}, "expectations": {"note": "math"}, "outputs": {"a": 4},
			"tags": {"k": "v"}}]`)
		if ins != 0 || upd != 1 {
			t.Errorf("second merge: %d inserted, %d updated", ins, upd)
		}
		recs, next, err := e.s.Records(ctx, d.ID, 0, "")
		if err != nil || next != "" || len(recs) != 2 {
			t.Fatalf("records %v %q %v", recs, next, err)
		}
		r0, r1 := recs[0], recs[1] // added in one merge: in the order of their ids
		if strings.Contains(string(r0.Inputs), "capital") {
			r0, r1 = r1, r0
		}
		if string(r0.Inputs) != `{"n":1.50,"q":"2+2"}` || string(r0.Expectations) != `{"answer":"4","note":"math"}` ||
			string(r0.Outputs) != `{"a":4}` || string(r0.Tags) != `{"k":"v"}` || r0.SourceType != "HUMAN" {
			t.Errorf("first record %+v", r0)
		}
		if string(r1.Outputs) != `"Paris"` || r1.SourceID != "tr-1" || r1.SourceType != "TRACE" || r1.CreatedBy != "ada" {
			t.Errorf("second record %+v", r1)
		}
		got, _ := e.s.GetDataset(ctx, d.ID)
		if got.Profile != `{"num_records":2}` || got.LastUpdatedBy != "" { // the last merge named no user
			t.Errorf("profile %s, last updated by %q", got.Profile, got.LastUpdatedBy)
		}
		var schema map[string]map[string]any
		_ = json.Unmarshal([]byte(got.Schema), &schema)
		if schema["inputs"]["n"] != "float" || schema["inputs"]["q"] != "string" || schema["expectations"]["note"] != "string" {
			t.Errorf("schema %s", got.Schema)
		}
		n, err := e.s.DeleteRecords(ctx, d.ID, []string{r0.ID, "dr-none"})
		if err != nil || n != 1 {
			t.Errorf("delete records: %d %v", n, err)
		}
		if got, _ = e.s.GetDataset(ctx, d.ID); got.Profile != `{"num_records":1}` {
			t.Errorf("profile after delete %s", got.Profile)
		}
	})
}

func TestRecordsPages(t *testing.T) {
	each(t, func(e *env) {
		d := e.create("pages", "", e.exp)
		var b strings.Builder
		b.WriteString("[")
		for i := range 25 {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `{"inputs": {"i": %d}}`, i)
		}
		b.WriteString("]")
		e.upsert(d.ID, b.String())
		seen := map[string]bool{}
		token := ""
		for pages := 0; ; pages++ {
			recs, next, err := e.s.Records(t.Context(), d.ID, 10, token)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				seen[r.ID] = true
			}
			if next == "" {
				if pages != 2 {
					t.Errorf("%d pages", pages+1)
				}
				break
			}
			token = next
		}
		if len(seen) != 25 {
			t.Errorf("read %d records", len(seen))
		}
		_, _, err := e.s.Records(t.Context(), d.ID, 10, "not a token")
		wantKind(t, err, fault.Invalid)
	})
}

func TestBadRecordsStoreNothing(t *testing.T) {
	for _, bad := range []string{
		`{"inputs": {}}`,
		`[{"outputs": 1}]`,
		`[{"inputs": "text"}]`,
		`[{"inputs": {"a": 1}}, {"inputs": {"b": 1}, "source": {"source_type": "ROBOT"}}]`,
		`[{"inputs": {"a": 1}, "expectations": [1]}]`,
		`[{"inputs": {"a": 1}}] trailing`,
	} {
		if _, err := genaidata.ParseRecords(bad); fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: %v", bad, err)
		}
	}
	each(t, func(e *env) {
		recs, _ := genaidata.ParseRecords(`[{"inputs": {"a": 1}}]`)
		_, _, err := e.s.UpsertRecords(t.Context(), "d-missing", recs)
		wantKind(t, err, fault.NotFound)
		_, err = e.s.CreateDataset(t.Context(), "x", nil, []string{e.exp, "999999"})
		wantKind(t, err, fault.NotFound)
		_, err = e.s.CreateDataset(t.Context(), "", nil, []string{e.exp})
		wantKind(t, err, fault.Invalid)
		ds, _, err := e.s.Search(t.Context(), genaidata.SearchQuery{})
		if err != nil || len(ds) != 0 {
			t.Errorf("a refused creation left %v (%v)", ds, err)
		}
	})
}

func TestSearchDatasets(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		a := e.create("alpha", `{"team": "fraud"}`, e.exp)
		e.create("beta", `{"team": "risk"}`, e.other)
		both := e.create("gamma", "", e.exp, e.other)
		e.create("orphan", "")
		names := func(q genaidata.SearchQuery) string {
			t.Helper()
			ds, _, err := e.s.Search(ctx, q)
			if err != nil {
				t.Fatalf("search %+v: %v", q, err)
			}
			var out []string
			for _, d := range ds {
				out = append(out, d.Name)
			}
			return strings.Join(out, ",")
		}
		cases := []struct {
			q    genaidata.SearchQuery
			want string
		}{
			{genaidata.SearchQuery{OrderBy: []string{"name ASC"}}, "alpha,beta,gamma,orphan"},
			{genaidata.SearchQuery{ExperimentIDs: []string{e.exp}, OrderBy: []string{"name"}}, "alpha,gamma"},
			{genaidata.SearchQuery{Filter: "tags.team = 'fraud'"}, "alpha"},
			{genaidata.SearchQuery{Filter: "name LIKE '%a'", OrderBy: []string{"name DESC"}}, "gamma,beta,alpha"},
			{genaidata.SearchQuery{Filter: fmt.Sprintf("created_time >= %d", a.CreatedTime), OrderBy: []string{"name"}, MaxResults: 1}, "alpha"},
			// A caller who reads only exp sees the datasets all of whose experiments it reads.
			{genaidata.SearchQuery{Visible: &sqlsearch.Restriction{Only: true, IDs: []string{e.exp}}, OrderBy: []string{"name"}}, "alpha"},
			{genaidata.SearchQuery{Visible: &sqlsearch.Restriction{IDs: []string{e.other}}, OrderBy: []string{"name"}}, "alpha"},
			{genaidata.SearchQuery{Visible: &sqlsearch.Restriction{}, OrderBy: []string{"name"}}, "alpha,beta,gamma"},
		}
		for _, c := range cases {
			if got := names(c.q); got != c.want {
				t.Errorf("%+v: got %s, want %s", c.q, got, c.want)
			}
		}
		_ = both
		ds, next, err := e.s.Search(ctx, genaidata.SearchQuery{MaxResults: 3, OrderBy: []string{"name"}})
		if err != nil || len(ds) != 3 || next == "" {
			t.Fatalf("first page %d %q %v", len(ds), next, err)
		}
		if got := names(genaidata.SearchQuery{MaxResults: 3, OrderBy: []string{"name"}, PageToken: next}); got != "orphan" {
			t.Errorf("second page %s", got)
		}
		for _, bad := range []genaidata.SearchQuery{{Filter: "params.x = 'y'"}, {OrderBy: []string{"digest"}}, {MaxResults: 5000}} {
			_, _, err := e.s.Search(ctx, bad)
			wantKind(t, err, fault.Invalid)
		}
	})
}

func TestScorerVersions(t *testing.T) {
	each(t, func(e *env) {
		ctx := t.Context()
		v1, err := e.s.RegisterScorer(ctx, e.exp, "exact", `{"name": "exact", "v": 1}`)
		if err != nil || v1.Version != 1 || v1.ExperimentID != e.exp {
			t.Fatalf("register: %+v %v", v1, err)
		}
		v2, err := e.s.RegisterScorer(ctx, e.exp, "exact", `{"name": "exact", "v": 2}`)
		if err != nil || v2.Version != 2 || v2.ScorerID != v1.ScorerID {
			t.Fatalf("register again: %+v %v", v2, err)
		}
		if _, err := e.s.RegisterScorer(ctx, e.exp, "fuzzy", `{"name": "fuzzy"}`); err != nil {
			t.Fatal(err)
		}
		list, err := e.s.ListScorers(ctx, e.exp)
		if err != nil || len(list) != 2 || list[0].Name != "exact" || list[0].Version != 2 || list[1].Name != "fuzzy" {
			t.Errorf("list %+v %v", list, err)
		}
		if list, _ := e.s.ListScorers(ctx, e.other); len(list) != 0 {
			t.Errorf("other experiment lists %+v", list)
		}
		one := int64(1)
		got, err := e.s.GetScorer(ctx, e.exp, "exact", &one)
		if err != nil || got.Serialized != `{"name": "exact", "v": 1}` {
			t.Errorf("get v1 %+v %v", got, err)
		}
		if err := e.s.DeleteScorer(ctx, e.exp, "exact", &one); err != nil {
			t.Fatal(err)
		}
		vs, err := e.s.ScorerVersions(ctx, e.exp, "exact")
		if err != nil || len(vs) != 1 || vs[0].Version != 2 {
			t.Errorf("versions %+v %v", vs, err)
		}
		if err := e.s.DeleteScorer(ctx, e.exp, "exact", nil); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.GetScorer(ctx, e.exp, "exact", nil)
		wantKind(t, err, fault.NotFound)
		wantKind(t, e.s.DeleteScorer(ctx, e.exp, "exact", nil), fault.NotFound)
		for _, bad := range [][2]string{{"", `{}`}, {"x", "not json"}, {"x", ""}, {"a\nb", `{}`}} {
			_, err := e.s.RegisterScorer(ctx, e.exp, bad[0], bad[1])
			wantKind(t, err, fault.Invalid)
		}
		_, err = e.s.RegisterScorer(ctx, "999999", "x", `{}`)
		wantKind(t, err, fault.NotFound)
	})
}
