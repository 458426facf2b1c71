package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving"
)

// window is the traffic of one window, profiled as it is read.
type window struct {
	profiler *dataset.Profiler
	rows     int64
	lastID   int64
	skipped  int
}

// readWindow profiles the inputs of the payload records after afterID: the requests
// the primary and the canary answered without error (a shadow's copies would count
// twice).
func (m *Monitor) readWindow(ctx context.Context, name string, afterID int64, meta runtime.Metadata) (*window, error) {
	w := &window{profiler: dataset.NewProfiler(nil), lastID: afterID}
	for read := 0; read < maxWindowRecords; {
		page, err := m.opts.Deployments.ListPayloads(ctx, name, 0, w.lastID, pageSize)
		if err != nil {
			return nil, err
		}
		for _, rec := range page {
			w.lastID = rec.ID
			if rec.Role == serving.RoleShadow || rec.Error != "" {
				continue
			}
			if err := w.add(rec.Request, meta); err != nil {
				w.skipped++
				m.opts.Logger.Debug("payload record not profiled", "deployment", name, "id", rec.ID, "err", err)
			}
		}
		read += len(page)
		if len(page) < pageSize {
			break
		}
	}
	return w, nil
}

// payloadTensor is one input of a payload record, as the payload log stores it.
type payloadTensor struct {
	Name     string           `json:"name"`
	Datatype runtime.Datatype `json:"datatype"`
	Shape    []int64          `json:"shape"`
	Data     json.RawMessage  `json:"data"`
}

// add profiles one request's inputs: each input of shape [rows] or [rows, 1] is a
// column; an input of shape [rows, k] holds k columns, named after the model's column
// inputs when it has k of them, else NAME[i].
func (w *window) add(raw json.RawMessage, meta runtime.Metadata) error {
	var req struct {
		Inputs []payloadTensor `json:"inputs"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return err
	}
	var rows int64
	for _, t := range req.Inputs {
		if len(t.Shape) == 0 || len(t.Shape) > 2 {
			return fmt.Errorf("input %q of shape %v is not a table", t.Name, t.Shape)
		}
		names := columnNames(t, meta)
		if err := w.addTensor(t, names); err != nil {
			return err
		}
		rows = max(rows, t.Shape[0])
	}
	w.rows += rows
	return nil
}

func columnNames(t payloadTensor, meta runtime.Metadata) []string {
	k := int64(1)
	if len(t.Shape) == 2 {
		k = t.Shape[1]
	}
	if k == 1 {
		return []string{t.Name}
	}
	names := make([]string, k)
	if meta.Columns && int64(len(meta.Inputs)) == k {
		for i, in := range meta.Inputs {
			names[i] = in.Name
		}
		return names
	}
	for i := range names {
		names[i] = t.Name + "[" + strconv.Itoa(i) + "]"
	}
	return names
}

// addTensor adds the columns of a row-major tensor.
func (w *window) addTensor(t payloadTensor, names []string) error {
	k := len(names)
	switch t.Datatype {
	case runtime.Bytes:
		var vals []*string
		if err := json.Unmarshal(t.Data, &vals); err != nil {
			return err
		}
		for j, name := range names {
			col := make([]string, 0, len(vals)/k)
			nulls := 0
			for i := j; i < len(vals); i += k {
				if vals[i] == nil {
					nulls++
					continue
				}
				col = append(col, *vals[i])
			}
			w.profiler.AddStrings(name, col)
			w.profiler.AddNulls(name, nulls)
		}
	case runtime.Bool:
		var vals []bool
		if err := json.Unmarshal(t.Data, &vals); err != nil {
			return err
		}
		for j, name := range names {
			col := make([]bool, 0, len(vals)/k)
			for i := j; i < len(vals); i += k {
				col = append(col, vals[i])
			}
			w.profiler.AddBools(name, col)
		}
	default:
		var vals []*float64
		if err := json.Unmarshal(t.Data, &vals); err != nil {
			return err
		}
		integer := t.Datatype != runtime.FP16 && t.Datatype != runtime.BF16 && t.Datatype != runtime.FP32 && t.Datatype != runtime.FP64
		for j, name := range names {
			col := make([]float64, 0, len(vals)/k)
			for i := j; i < len(vals); i += k {
				if vals[i] == nil {
					col = append(col, math.NaN())
				} else {
					col = append(col, *vals[i])
				}
			}
			if integer {
				ints := make([]int64, len(col))
				for i, v := range col {
					ints[i] = int64(v)
				}
				w.profiler.AddInts(name, ints)
			} else {
				w.profiler.AddFloats(name, col)
			}
		}
	}
	return nil
}
