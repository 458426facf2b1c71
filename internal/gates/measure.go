package gates

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/datasets"
	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/gate"
	"github.com/mlship/mlship/internal/runtime"
)

// probaParam asks the Python worker for a classifier's class probabilities beside its
// predictions (outputs "probabilities" and "classes"), as mlflow.evaluate takes them
// from predict_proba.
const probaParam = "mlship.predict_proba"

// predictors is how many batches are with the model at once: one being predicted
// while the next is read keeps both cores busy.
const predictors = 2

// measure runs a model version over a benchmark's dataset through the runtime that
// serves it and computes the metrics. Batches are predicted concurrently but added to
// the metrics in file order, so the same inputs always give the same numbers.
func (s *Service) measure(ctx context.Context, def Definition, model, version string,
	progress func(done, total int64)) (gate.Result, string, error) {
	dv, err := s.pinned(ctx, def)
	if err != nil {
		return gate.Result{}, "", err
	}
	progress(0, dv.Rows) // the total is known before the model loads, which takes a while
	m, runtimeName, err := s.opts.Loader.Load(ctx, model, version)
	if err != nil {
		return gate.Result{}, "", err
	}
	defer m.Close()
	rc, err := s.data.Open(ctx, dv)
	if err != nil {
		return gate.Result{}, "", err
	}
	defer rc.Close()
	r, err := dataset.Open(rc, dv.Format, &dataset.ReadOptions{BatchRows: batchRows(s.opts.BatchRows, dv.Rows)})
	if err != nil {
		return gate.Result{}, "", err
	}
	defer r.Close()
	plan, err := newPlan(def, dv, m.Metadata())
	if err != nil {
		return gate.Result{}, "", err
	}
	acc, err := newAccumulator(def.Spec)
	if err != nil {
		return gate.Result{}, "", err
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type chunk struct {
		batch *dataset.Batch
		in    *input
		resp  *runtime.Response
		err   error
		done  chan struct{}
	}
	// The reader only splits lines into fields; the predictors parse them into
	// tensors and predict, each batch in its own reused Batch.
	free := make(chan *dataset.Batch, 2*predictors+2)
	for range cap(free) {
		free <- new(dataset.Batch)
	}
	work := make(chan *chunk, predictors)
	ordered := make(chan *chunk, 2*predictors)
	var wg sync.WaitGroup
	for range predictors {
		wg.Go(func() {
			for c := range work {
				c.in, c.err = plan.build(c.batch)
				free <- c.batch // build copied what it needs
				if c.err == nil {
					c.resp, c.err = m.Predict(ctx, c.in.req)
				}
				close(c.done)
			}
		})
	}
	go func() { // the reader
		defer close(ordered)
		defer close(work)
		for {
			var b *dataset.Batch
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			err := r.Read(ctx, b)
			if errors.Is(err, io.EOF) {
				return
			}
			c := &chunk{batch: b, done: make(chan struct{})}
			if err != nil {
				c.err = err
				close(c.done)
				ordered <- c
				return
			}
			select {
			case work <- c:
			case <-ctx.Done():
				return
			}
			ordered <- c
		}
	}()
	var rows int64
	for c := range ordered {
		<-c.done
		if err == nil {
			err = c.err
			if err == nil {
				err = acc.add(plan, c.in, c.resp)
			}
			if err != nil {
				cancel(err)
			} else {
				rows += int64(c.in.rows)
				progress(rows, dv.Rows)
			}
		}
	}
	wg.Wait()
	if err != nil {
		return gate.Result{}, "", err
	}
	if rows == 0 {
		return gate.Result{}, "", fault.Invalidf("dataset %s has no rows to evaluate on", def.Dataset)
	}
	progress(rows, rows)
	return acc.result(), runtimeName, nil
}

// batchRows is how many rows go to the model per request: at most limit, and for a
// dataset of a few batches' rows about a twentieth of it (but not under 256 rows), so
// that progress is reported as the evaluation goes, not in one step at the end.
func batchRows(limit int, rows int64) int {
	const steps, least = 20, 256
	return min(limit, max(least, int((rows+steps-1)/steps)))
}

// pinned returns the benchmark's dataset version, checking that it is still the
// content the benchmark pinned.
func (s *Service) pinned(ctx context.Context, def Definition) (*datasets.Version, error) {
	dv, err := s.data.ParseRef(ctx, def.Dataset)
	if err != nil {
		return nil, err
	}
	if dv.Digest != def.DatasetDigest {
		return nil, fault.New(fault.Conflict, "dataset %s is no longer the content the benchmark pinned (%s)", def.Dataset, def.DatasetDigest)
	}
	return dv, nil
}

// plan is how a dataset's batches become a model's requests.
type plan struct {
	def      Definition
	features []string            // columns given to the model, in the order it takes them
	matrix   *runtime.TensorSpec // one [rows, features] input; nil: one input per column
	inputs   []runtime.TensorSpec
	layout   runtime.Layout
	params   map[string]any
}

func newPlan(def Definition, dv *datasets.Version, md runtime.Metadata) (*plan, error) {
	p := &plan{def: def, features: def.Features}
	if len(p.features) == 0 {
		for _, f := range dv.Schema.Fields {
			if f.Name != def.Target {
				p.features = append(p.features, f.Name)
			}
		}
	}
	named := len(md.Inputs) > 0
	for _, in := range md.Inputs {
		if !slices.Contains(p.features, in.Name) && !slices.ContainsFunc(dv.Schema.Fields, func(f dataset.Field) bool { return f.Name == in.Name }) {
			named = false
		}
	}
	switch {
	case named && (md.Columns || len(md.Inputs) > 1 || !isMatrix(md.Inputs[0])):
		p.inputs, p.features = md.Inputs, nil
		for _, in := range md.Inputs {
			if in.Name == def.Target {
				return nil, fault.Invalidf("the model takes the target column %q as an input", def.Target)
			}
			p.features = append(p.features, in.Name)
		}
		if md.Columns {
			p.layout = runtime.LayoutColumns
		}
	case len(md.Inputs) == 1 && isMatrix(md.Inputs[0]):
		in := md.Inputs[0]
		if w := in.Shape[1]; w > 0 && int(w) != len(p.features) {
			return nil, fault.Invalidf("the model takes %d features in %q, the benchmark gives %d (%s): list the model's features with --features",
				w, in.Name, len(p.features), strings.Join(p.features, ", "))
		}
		p.matrix = &in
	case len(md.Inputs) == 0:
		p.matrix = &runtime.TensorSpec{Name: "input", Datatype: runtime.FP64, Shape: []int64{-1, -1}}
	default:
		names := make([]string, len(md.Inputs))
		for i, in := range md.Inputs {
			names[i] = in.Name
		}
		return nil, fault.Invalidf("the model's inputs (%s) are neither columns of the benchmark dataset nor one [rows, features] tensor", strings.Join(names, ", "))
	}
	if def.Spec.Task == gate.TaskClassification {
		p.params = map[string]any{probaParam: true}
	}
	return p, nil
}

func isMatrix(s runtime.TensorSpec) bool {
	return len(s.Shape) == 2 && s.Datatype != runtime.Bytes
}

// input is one batch as the model and the metrics take it.
type input struct {
	req    *runtime.Request
	rows   int
	labels []string  // classification truth
	truth  []float64 // regression truth
	slice  []string
}

// build turns a batch into the model's request and the truth; it is called from
// several goroutines at once, each with its own batch.
func (p *plan) build(b *dataset.Batch) (*input, error) {
	col := func(name string) (*dataset.BatchColumn, error) {
		i := slices.Index(b.Names, name)
		if i < 0 || i >= len(b.Columns) {
			return nil, fault.Invalidf("the benchmark dataset has no column %q", name)
		}
		return &b.Columns[i], nil
	}
	in := &input{rows: b.Rows, req: &runtime.Request{Layout: p.layout, Params: p.params}}
	if p.matrix != nil {
		t, err := p.matrixTensor(b, col)
		if err != nil {
			return nil, err
		}
		in.req.Inputs = []runtime.Tensor{t}
	} else {
		for _, spec := range p.inputs {
			c, err := col(spec.Name)
			if err != nil {
				return nil, err
			}
			t, err := columnTensor(spec, c, b, p.layout == runtime.LayoutColumns)
			if err != nil {
				return nil, err
			}
			in.req.Inputs = append(in.req.Inputs, t)
		}
	}
	target, err := col(p.def.Target)
	if err != nil {
		return nil, err
	}
	if p.def.Spec.Task == gate.TaskClassification {
		in.labels = labels(target)
	} else if in.truth, err = numbers(target, p.def.Target, b); err != nil {
		return nil, err
	}
	if p.def.Spec.SliceBy != "" {
		c, err := col(p.def.Spec.SliceBy)
		if err != nil {
			return nil, err
		}
		in.slice = labels(c)
	}
	return in, nil
}

// matrixTensor lays the feature columns out row after row in one tensor.
func (p *plan) matrixTensor(b *dataset.Batch, col func(string) (*dataset.BatchColumn, error)) (runtime.Tensor, error) {
	k := len(p.features)
	dt := p.matrix.Datatype
	if dt != runtime.FP32 && dt != runtime.Int64 && dt != runtime.Int32 {
		dt = runtime.FP64
	}
	size := dt.Size()
	data := make([]byte, b.Rows*k*size)
	le := binary.LittleEndian
	for j, name := range p.features {
		c, err := col(name)
		if err != nil {
			return runtime.Tensor{}, err
		}
		values, err := numbers(c, name, b)
		if err != nil {
			return runtime.Tensor{}, err
		}
		for i, v := range values {
			off := (i*k + j) * size
			switch dt {
			case runtime.FP32:
				le.PutUint32(data[off:], math.Float32bits(float32(v)))
			case runtime.FP64:
				le.PutUint64(data[off:], math.Float64bits(v))
			case runtime.Int64:
				le.PutUint64(data[off:], uint64(int64(v)))
			case runtime.Int32:
				le.PutUint32(data[off:], uint32(int32(v)))
			}
		}
	}
	return runtime.Tensor{Name: p.matrix.Name, Datatype: dt, Shape: []int64{int64(b.Rows), int64(k)}, Data: data}, nil
}

// columnTensor is one column as the input spec declares it.
func columnTensor(spec runtime.TensorSpec, c *dataset.BatchColumn, b *dataset.Batch, table bool) (runtime.Tensor, error) {
	rows := int64(b.Rows)
	shape := []int64{rows}
	if !table && len(spec.Shape) == 2 {
		shape = []int64{rows, 1}
	}
	if spec.Datatype == runtime.Bytes {
		return runtime.NewStrings(spec.Name, shape, labels(c)), nil
	}
	values, err := numbers(c, spec.Name, b)
	if err != nil {
		return runtime.Tensor{}, err
	}
	switch spec.Datatype {
	case runtime.FP32:
		data := make([]byte, 4*len(values))
		for i, v := range values {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(v)))
		}
		return runtime.Tensor{Name: spec.Name, Datatype: runtime.FP32, Shape: shape, Data: data}, nil
	case runtime.Int64, runtime.Int32:
		ints := make([]int64, len(values))
		for i, v := range values {
			ints[i] = int64(v)
		}
		t := runtime.NewInt64(spec.Name, shape, ints)
		return t, nil
	}
	return runtime.NewFloat64(spec.Name, shape, values), nil
}

// numbers returns a column's cells as numbers; an empty cell is NaN (a missing
// value, as pandas reads it), text is an error naming its line.
func numbers(c *dataset.BatchColumn, name string, b *dataset.Batch) ([]float64, error) {
	kinds, nums := c.Cells()
	out := make([]float64, len(kinds))
	for i, k := range kinds {
		switch k {
		case dataset.CellNull:
			out[i] = math.NaN()
		case dataset.CellString:
			return nil, fault.Invalidf("column %q, line %d: %q is not a number", name, b.FirstLine+int64(i), c.Text(i))
		default:
			out[i] = nums[i]
		}
	}
	return out, nil
}

// labels returns a column's cells as gate.FormatValue writes them.
func labels(c *dataset.BatchColumn) []string {
	kinds, nums := c.Cells()
	out := make([]string, len(kinds))
	for i, k := range kinds {
		switch k {
		case dataset.CellNull:
			out[i] = "null"
		case dataset.CellString:
			out[i] = string(c.Text(i))
		case dataset.CellBool:
			out[i] = gate.FormatValue(nums[i] != 0)
		default:
			out[i] = gate.FormatValue(nums[i])
		}
	}
	return out
}

// accumulator gathers a classifier's or a regressor's predictions.
type accumulator struct {
	spec  gate.Spec
	class *gate.Classification
	reg   *gate.Regression
	// reuse
	truth, pred []int
}

func newAccumulator(spec gate.Spec) (*accumulator, error) {
	a := &accumulator{spec: spec}
	var err error
	if spec.Task == gate.TaskClassification {
		a.class, err = gate.NewClassification(spec)
	} else {
		a.reg, err = gate.NewRegression(spec)
	}
	return a, err
}

func (a *accumulator) result() gate.Result {
	if a.class != nil {
		return a.class.Result()
	}
	return a.reg.Result()
}

func (a *accumulator) add(p *plan, in *input, resp *runtime.Response) error {
	if a.reg != nil {
		out := firstOutput(resp, "classes")
		if out == nil {
			return fault.Invalidf("the model returned no predictions")
		}
		if out.Rows() != int64(in.rows) || runtime.Elements(out.Shape) != int64(in.rows) || out.Datatype == runtime.Bytes {
			return fault.Invalidf("the model returned %q of shape %v and type %s for %d rows: a regressor returns one number per row", out.Name, out.Shape, out.Datatype, in.rows)
		}
		pred := make([]float64, in.rows)
		for i := range pred {
			pred[i] = out.Float64At(i)
		}
		return a.reg.Add(gate.RegressionBatch{Truth: in.truth, Pred: pred, Slice: in.slice})
	}
	labelsOut, probaOut, classes := pickClassifierOutputs(resp)
	if labelsOut == nil {
		return fault.Invalidf("the model returned no predicted labels")
	}
	if runtime.Elements(labelsOut.Shape) != int64(in.rows) {
		return fault.Invalidf("the model returned %q of shape %v for %d rows: a classifier returns one label per row", labelsOut.Name, labelsOut.Shape, in.rows)
	}
	var err error
	if a.truth, err = a.class.Encode(in.labels, a.truth[:0]); err != nil {
		return fmt.Errorf("benchmark target: %w", err)
	}
	if a.pred, err = a.class.Encode(tensorLabels(labelsOut), a.pred[:0]); err != nil {
		return fmt.Errorf("model's predictions: %w", err)
	}
	var proba []float64
	if probaOut != nil {
		if proba, err = a.probabilities(probaOut, classes, in.rows); err != nil {
			return err
		}
	}
	return a.class.Add(gate.ClassificationBatch{Truth: a.truth, Pred: a.pred, Proba: proba, Slice: in.slice})
}

// probabilities reads a [rows, classes] tensor into the benchmark's class order. The
// model's classes, when it names them, map its columns; otherwise its columns are
// taken to be the benchmark's classes in order (scikit-learn's sorted classes_).
func (a *accumulator) probabilities(t *runtime.Tensor, classes []string, rows int) ([]float64, error) {
	k := len(a.spec.Classes)
	if len(t.Shape) != 2 || t.Shape[0] != int64(rows) || t.Datatype == runtime.Bytes {
		return nil, fault.Invalidf("the model's probabilities %q have shape %v, not [%d, classes]", t.Name, t.Shape, rows)
	}
	w := int(t.Shape[1])
	col := make([]int, k) // the model's column of each benchmark class; -1: none
	if len(classes) == w {
		for c, name := range a.spec.Classes {
			col[c] = slices.Index(classes, name)
		}
	} else if w == k {
		for c := range col {
			col[c] = c
		}
	} else {
		return nil, fault.Invalidf("the model gives probabilities of %d classes and the benchmark has %d (%s): set the benchmark's classes to the model's",
			w, k, strings.Join(a.spec.Classes, ", "))
	}
	out := make([]float64, rows*k)
	for i := range rows {
		for c, j := range col {
			if j >= 0 {
				out[i*k+c] = t.Float64At(i*w + j)
			}
		}
	}
	return out, nil
}

var (
	labelNames = []string{"label", "output_label", "predictions", "predicted_label", "prediction"}
	probaNames = []string{"probabilities", "output_probability", "predict_proba", "probability"}
)

// pickClassifierOutputs finds a classifier's labels, probabilities and class names
// among its outputs by their usual names (scikit-learn's ONNX converters, the Python
// worker), else by position and shape.
func pickClassifierOutputs(resp *runtime.Response) (labelsOut, probaOut *runtime.Tensor, classes []string) {
	outs := resp.Outputs
	for i := range outs {
		o := &outs[i]
		switch {
		case o.Name == "classes" && o.Datatype == runtime.Bytes:
			classes = make([]string, len(o.Strings))
			for j, s := range o.Strings {
				classes[j] = string(s)
			}
		case slices.Contains(labelNames, o.Name) && labelsOut == nil:
			labelsOut = o
		case slices.Contains(probaNames, o.Name) && probaOut == nil:
			probaOut = o
		}
	}
	for i := range outs {
		o := &outs[i]
		if o == labelsOut || o == probaOut || o.Name == "classes" {
			continue
		}
		if probaOut == nil && len(o.Shape) == 2 && o.Shape[1] > 1 && (o.Datatype == runtime.FP32 || o.Datatype == runtime.FP64) {
			probaOut = o
		} else if labelsOut == nil {
			labelsOut = o
		}
	}
	return labelsOut, probaOut, classes
}

func firstOutput(resp *runtime.Response, except string) *runtime.Tensor {
	for i := range resp.Outputs {
		if resp.Outputs[i].Name != except {
			return &resp.Outputs[i]
		}
	}
	return nil
}

// tensorLabels returns a tensor's elements as gate.FormatValue writes them.
func tensorLabels(t *runtime.Tensor) []string {
	if t.Datatype == runtime.Bytes {
		out := make([]string, len(t.Strings))
		for i, s := range t.Strings {
			out[i] = string(s)
		}
		return out
	}
	n := int(runtime.Elements(t.Shape))
	out := make([]string, n)
	for i := range out {
		v := t.Float64At(i)
		if t.Datatype == runtime.Bool {
			out[i] = gate.FormatValue(v != 0)
		} else {
			out[i] = gate.FormatValue(v)
		}
	}
	return out
}

// distinctTargets returns the distinct labels of a dataset version's target column,
// sorted as scikit-learn sorts classes: from the version's profile, which counts a
// column's values exactly while they are few, else by reading the column.
func (s *Service) distinctTargets(ctx context.Context, dv *datasets.Version, target string) ([]string, error) {
	p, err := s.data.Profile(ctx, dv)
	if err != nil {
		return nil, err
	}
	c := p.Column(target)
	if c == nil {
		return nil, fault.Invalidf("dataset %s/%d has no column %q", dv.Name, dv.Version, target)
	}
	counts, exact := c.ValueCounts()
	if !exact {
		return s.scanTargets(ctx, dv, target)
	}
	seen := make(map[string]bool, len(counts))
	if c.Nulls > 0 {
		seen["null"] = true
	}
	for _, vc := range counts {
		seen[valueLabel(vc.Value)] = true
	}
	return classList(seen, dv, target)
}

// valueLabel writes a profiled value as labels writes a cell.
func valueLabel(v dataset.Value) string {
	switch v.Kind {
	case dataset.ValueNumber:
		return gate.FormatValue(v.Num)
	case dataset.ValueBool:
		return gate.FormatValue(v.Num != 0)
	}
	return v.Str
}

// scanTargets reads the target column for its distinct labels.
func (s *Service) scanTargets(ctx context.Context, dv *datasets.Version, target string) ([]string, error) {
	rc, err := s.data.Open(ctx, dv)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	r, err := dataset.Open(rc, dv.Format, nil)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	seen := map[string]bool{}
	var b dataset.Batch
	for {
		err := r.Read(ctx, &b)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		i := slices.Index(b.Names, target)
		if i < 0 || i >= len(b.Columns) {
			return nil, fault.Invalidf("dataset %s/%d has no column %q", dv.Name, dv.Version, target)
		}
		for _, l := range labels(&b.Columns[i]) {
			if !seen[l] {
				if len(seen) >= gate.MaxClasses {
					return nil, fault.Invalidf("target column %q has more than %d distinct values: is it a regression target?", target, gate.MaxClasses)
				}
				seen[l] = true
			}
		}
	}
	return classList(seen, dv, target)
}

// classList checks and sorts a target's distinct labels.
func classList(seen map[string]bool, dv *datasets.Version, target string) ([]string, error) {
	if seen["null"] {
		return nil, fault.Invalidf("target column %q of dataset %s/%d has empty values", target, dv.Name, dv.Version)
	}
	if len(seen) < 2 {
		return nil, fault.Invalidf("target column %q of dataset %s/%d has %d distinct values: a classifier needs at least two classes", target, dv.Name, dv.Version, len(seen))
	}
	out := make([]string, 0, len(seen))
	for l := range seen {
		out = append(out, l)
	}
	return gate.SortClasses(out), nil
}
