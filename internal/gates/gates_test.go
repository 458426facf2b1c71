package gates

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlship/mlship/internal/blob"
	"github.com/mlship/mlship/internal/cas"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gate"
	"github.com/mlship/mlship/internal/jobs"
	"github.com/mlship/mlship/internal/registry"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/store"
	"github.com/mlship/mlship/internal/store/storetest"
)

// thresholdModel predicts class "1" when its one feature is above its cut, with
// probability 0.9. It stands in for a runtime: what is under test is how batches
// reach a model and how its outputs become metrics.
type thresholdModel struct{ cut float64 }

func (m thresholdModel) Metadata() runtime.Metadata {
	return runtime.Metadata{Platform: "test", Inputs: []runtime.TensorSpec{{Name: "input", Datatype: runtime.FP32, Shape: []int64{-1, 1}}}}
}

func (m thresholdModel) Predict(ctx context.Context, req *runtime.Request) (*runtime.Response, error) {
	x := req.Inputs[0]
	n := int(x.Rows())
	labels := make([]int64, n)
	proba := make([]float64, 2*n)
	for i := range n {
		v := float64(math.Float32frombits(binary.LittleEndian.Uint32(x.Data[4*i:])))
		p := 0.1
		if v > m.cut {
			labels[i], p = 1, 0.9
		}
		proba[2*i], proba[2*i+1] = 1-p, p
	}
	return &runtime.Response{Outputs: []runtime.Tensor{
		runtime.NewInt64("label", []int64{int64(n)}, labels),
		runtime.NewFloat64("probabilities", []int64{int64(n), 2}, proba),
	}}, nil
}

func (thresholdModel) Close() error { return nil }

// loader serves version v as thresholdModel{cut: cuts[v]}.
type loader map[string]float64

func (l loader) Load(ctx context.Context, model, version string) (runtime.Model, string, error) {
	cut, ok := l[version]
	if !ok {
		return nil, "", fault.NotFoundf("no version %s", version)
	}
	return thresholdModel{cut: cut}, "test", nil
}

type fixture struct {
	s     *Service
	reg   *registry.Service
	db    *store.DB
	queue *jobs.Queue
}

func newFixture(t *testing.T, db *store.DB, cuts loader, csv string) *fixture {
	t.Helper()
	ctx := context.Background()
	b, err := blob.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	logger := slog.New(slog.DiscardHandler)
	reg := registry.New(db, registry.Options{SourceSchemes: []string{"s3"}})
	data := datasets.New(db, cas.New(b, "cas"), logger)
	if _, _, err := data.Register(ctx, "holdout", "holdout.csv", "", false, strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateRegisteredModel(ctx, registry.CreateModelInput{Name: "m"}); err != nil {
		t.Fatal(err)
	}
	for range cuts {
		if _, err := reg.CreateModelVersion(ctx, registry.CreateVersionInput{Name: "m", Source: "s3://bucket/m"}); err != nil {
			t.Fatal(err)
		}
	}
	q := jobs.New(jobs.Options{Path: filepath.Join(t.TempDir(), "jobs.db"), Logger: logger})
	s, err := New(ctx, Options{DB: db, Registry: reg, Datasets: data, Loader: cuts, Queue: q, Logger: logger, BatchRows: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(context.Background()) })
	return &fixture{s: s, reg: reg, db: db, queue: q}
}

// holdout is 100 rows: x = i/100, and the truth is 1 from x >= 0.5.
func holdout() string {
	var b strings.Builder
	b.WriteString("x,target\n")
	for i := range 100 {
		y := 0
		if i >= 50 {
			y = 1
		}
		fmt.Fprintf(&b, "%g,%d\n", float64(i)/100, y)
	}
	return b.String()
}

func accuracyGate() BenchmarkInput {
	t := 0.8
	zero := 0.0
	return BenchmarkInput{Dataset: "holdout/1", Target: "target", Spec: gate.Spec{Task: gate.TaskClassification},
		Gate: gate.Gate{NoBaseline: gate.NoBaselineSkip, Thresholds: gate.Thresholds{
			gate.Accuracy: {Threshold: &t, GreaterIsBetter: true},
			gate.F1:       {MinAbsoluteChange: &zero, GreaterIsBetter: true},
		}}}
}

// evaluateNow runs an evaluation in the calling goroutine, as the job would.
func (f *fixture) evaluateNow(t *testing.T, version string) *Evaluation {
	t.Helper()
	ctx := context.Background()
	b, err := f.s.Benchmark(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	num, _ := strconv.ParseInt(version, 10, 64)
	id, err := f.s.record(ctx, "m", num, b.Revision, "production", StatusQueued, b.Definition.DatasetDigest)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.run(ctx, id); err != nil {
		t.Fatal(err)
	}
	e, err := f.s.Evaluation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestProtectedAliasMovesOnlyThroughTheGate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// v1 is right on 90 rows, v2 on all 100, v3 on 70.
		f := newFixture(t, db, loader{"1": 0.54, "2": 0.495, "3": 0.195}, holdout())
		b, err := f.s.SetBenchmark(ctx, "m", accuracyGate())
		if err != nil {
			t.Fatal(err)
		}
		if got := b.Definition.Spec.Classes; len(got) != 2 || got[0] != "0" || got[1] != "1" {
			t.Fatalf("classes = %v, want [0 1]", got)
		}

		err = f.reg.SetAlias(ctx, "m", "production", "1")
		if fault.KindOf(err) != fault.Conflict || !strings.Contains(err.Error(), "mlship gate evaluate m/1") {
			t.Fatalf("unevaluated version took the alias: %v", err)
		}
		e1 := f.evaluateNow(t, "1")
		if e1.Status != StatusSucceeded || e1.Passed == nil || !*e1.Passed || e1.RowsDone != 100 {
			t.Fatalf("v1 = %+v", e1)
		}
		if acc := e1.Result.Metrics[gate.Accuracy]; acc != 0.96 {
			t.Fatalf("v1 accuracy = %v, want 0.96", acc)
		}
		if err := f.reg.SetAlias(ctx, "m", "production", "1"); err != nil {
			t.Fatal(err)
		}
		if err := f.reg.SetAlias(ctx, "m", "staging", "3"); err != nil {
			t.Fatalf("an unprotected alias is guarded: %v", err)
		}

		e3 := f.evaluateNow(t, "3")
		if e3.Passed == nil || *e3.Passed || e3.BaselineVersion != "1" {
			t.Fatalf("v3 = %+v", e3)
		}
		err = f.reg.SetAlias(ctx, "m", "production", "3")
		if !errors.Is(err, gate.ErrNotBlessed) || !strings.Contains(err.Error(), "accuracy_score") || !strings.Contains(err.Error(), "0.8") {
			t.Fatalf("failed version took the alias: %v", err)
		}

		// v2 passed against v1; once v1 no longer holds the alias the verdict is stale.
		e2 := f.evaluateNow(t, "2")
		if !*e2.Passed {
			t.Fatalf("v2 = %+v", e2.Verdict)
		}
		if err := f.reg.SetAliasOverride(ctx, "m", "production", "3", "incident 7", "ana"); err != nil {
			t.Fatal(err)
		}
		if err := f.reg.SetAlias(ctx, "m", "production", "2"); fault.KindOf(err) != fault.Conflict ||
			!strings.Contains(err.Error(), "evaluated against version 1, but version 3 holds") {
			t.Fatalf("stale verdict accepted: %v", err)
		}
		if err := f.reg.DeleteAlias(ctx, "m", "production"); err != nil {
			t.Fatal(err)
		}
		audit, err := f.s.Audit(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range audit {
			got = append(got, fmt.Sprintf("%s %s->%s %s %s", a.Action, a.Previous, a.Version, a.Reason, a.Actor))
		}
		want := []string{"deleted 3->  ", "override 1->3 incident 7 ana", "passed ->1  "}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("audit = %q, want %q", got, want)
		}
	})
}

// Batches are predicted concurrently but summed in file order: evaluating again
// gives bit-identical metrics.
func TestEvaluationIsDeterministic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, loader{"1": 0.3}, holdout())
		if _, err := f.s.SetBenchmark(ctx, "m", accuracyGate()); err != nil {
			t.Fatal(err)
		}
		first := f.evaluateNow(t, "1")
		for range 5 {
			again := f.evaluateNow(t, "1")
			for k, v := range first.Result.Metrics {
				if again.Result.Metrics[k] != v {
					t.Fatalf("%s: %v then %v", k, v, again.Result.Metrics[k])
				}
			}
		}
		if first.Result.Metrics[gate.LogLoss] == 0 || first.Result.Metrics[gate.ROCAUC] == 0 {
			t.Fatalf("probabilities were not used: %v", first.Result.Metrics)
		}
	})
}

func TestBenchmarkInputErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, loader{"1": 0.5}, holdout())
		for name, tc := range map[string]struct {
			edit func(*BenchmarkInput)
			want string
		}{
			"unpinned dataset": {func(in *BenchmarkInput) { in.Dataset = "holdout" }, "pin a version"},
			"missing target":   {func(in *BenchmarkInput) { in.Target = "y" }, `no column "y"`},
			"target a feature": {func(in *BenchmarkInput) { in.Features = []string{"x", "target"} }, "cannot also be a feature"},
			"unknown metric": {func(in *BenchmarkInput) {
				in.Gate.Thresholds["f1"] = in.Gate.Thresholds[gate.F1]
			}, "f1_score"},
			"bad alias": {func(in *BenchmarkInput) { in.Protected = []string{"latest"} }, "not a valid alias"},
			"bad task":  {func(in *BenchmarkInput) { in.Spec.Task = "clustering" }, "task"},
		} {
			in := accuracyGate()
			tc.edit(&in)
			_, err := f.s.SetBenchmark(ctx, "m", in)
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v, want an invalid-input error mentioning %q", name, err, tc.want)
			}
		}
		if _, err := f.s.Benchmark(ctx, "m"); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("a refused benchmark was stored: %v", err)
		}
		var in BenchmarkInput
		err := in.UnmarshalJSON([]byte(`{"dataset":"holdout/1","target":"target","spec":{"task":"classification"},
			"gate":{"thresholds":{"accuracy_score":{"threshold":0.5}}}}`))
		if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), "greater_is_better") {
			t.Fatalf("threshold without greater_is_better: %v", err)
		}
	})
}

// An evaluation recorded but never queued (the process stopped in between) is queued at
// start and runs; a holder's measurement left running is marked failed.
func TestStartRecoversInterruptedEvaluations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, loader{"1": 0.5, "2": 0.5}, holdout())
		b, err := f.s.SetBenchmark(ctx, "m", accuracyGate())
		if err != nil {
			t.Fatal(err)
		}
		orphan, err := f.s.record(ctx, "m", 1, b.Revision, "production", StatusQueued, b.Definition.DatasetDigest)
		if err != nil {
			t.Fatal(err)
		}
		holder, err := f.s.record(ctx, "m", 2, b.Revision, "", StatusRunning, b.Definition.DatasetDigest)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		if err := f.s.Start(runCtx); err != nil {
			t.Fatal(err)
		}
		if err := f.queue.Start(runCtx); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			e, err := f.s.Evaluation(ctx, orphan)
			if err != nil {
				t.Fatal(err)
			}
			if e.Done() {
				if e.Status != StatusSucceeded {
					t.Fatalf("recovered evaluation = %+v", e)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the orphaned evaluation never ran: %+v", e)
			}
			time.Sleep(50 * time.Millisecond)
		}
		h, err := f.s.Evaluation(ctx, holder)
		if err != nil || h.Status != StatusFailed || !strings.Contains(h.Error, "interrupted") {
			t.Fatalf("holder measurement = %+v, %v", h, err)
		}
	})
}

// A benchmark sliced by a column computes every metric per slice, and a threshold on
// a slice's metric judges that slice alone.
func TestSlicedBenchmark(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var b strings.Builder
		b.WriteString("x,region,target\n")
		for i := range 100 {
			region, y := "eu", 0
			if i%2 == 1 {
				region = "us"
			}
			if i >= 50 {
				y = 1
			}
			fmt.Fprintf(&b, "%g,%s,%d\n", float64(i)/100, region, y)
		}
		f := newFixture(t, db, loader{"1": 0.54}, b.String())
		in := accuracyGate()
		in.Features = []string{"x"}
		in.Spec.SliceBy = "region"
		bound := 0.99
		in.Gate.Thresholds[gate.SliceMetric(gate.Accuracy, "region", "eu")] = gate.Threshold{Threshold: &bound, GreaterIsBetter: true}
		if _, err := f.s.SetBenchmark(ctx, "m", in); err != nil {
			t.Fatal(err)
		}
		e := f.evaluateNow(t, "1")
		if len(e.Result.Slices) != 2 {
			t.Fatalf("slices = %+v", e.Result.Slices)
		}
		// Rows 50..53 are wrong: 50 and 52 in eu, 51 and 53 in us.
		all := e.Result.All()
		if all["accuracy_score/region:eu"] != 0.96 || all["accuracy_score/region:us"] != 0.96 || all[gate.ExampleCount] != 100 {
			t.Fatalf("metrics = %v", all)
		}
		if *e.Passed || !strings.Contains(e.Verdict.Summary, "accuracy_score/region:eu") {
			t.Fatalf("verdict = %+v", e.Verdict)
		}
	})
}
