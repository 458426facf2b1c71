package monitor

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/mlship/mlship/internal/dataset"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving"
	"github.com/mlship/mlship/internal/store"
)

// window is the traffic of one window, profiled as it is read.
type window struct {
	profiler *dataset.Profiler
	rows     int64
	last     cursor
	skipped  int
}

// cursor is where a deployment's window stops in its payload log: after the record id
// of the transaction txid. On SQLite ids follow commit order and txid is 0. On
// PostgreSQL servers sharing the database commit records out of id order, so records
// are read in (txid, id) order, and only those of transactions that have all ended.
type cursor struct {
	txid uint64
	id   int64
}

// start returns the cursor of a window that starts now.
func (m *Monitor) start(ctx context.Context, name string) (cursor, error) {
	var c cursor
	if m.shared() {
		var xmin string
		err := m.opts.DB.Reader().QueryRowContext(ctx, `SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS TEXT)`).Scan(&xmin)
		if err == nil {
			c.txid, err = strconv.ParseUint(xmin, 10, 64)
		}
		return c, err
	}
	err := m.opts.DB.Reader().QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM payload_log WHERE deployment = ?`, name).Scan(&c.id)
	return c, err
}

func (m *Monitor) shared() bool { return m.opts.DB.Dialect().Name() == "postgres" }

// readWindow profiles the inputs of the payload records after from: the requests the
// primary and the canary answered without error (a shadow's copies would count twice).
func (m *Monitor) readWindow(ctx context.Context, name string, from cursor, meta runtime.Metadata) (*window, error) {
	w := &window{profiler: dataset.NewProfiler(nil), last: from}
	for read := 0; read < maxWindowRecords; {
		page, err := m.page(ctx, name, w.last)
		if err != nil {
			return nil, err
		}
		for _, rec := range page {
			w.last = rec.at
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

type record struct {
	serving.StoredPayload
	at cursor
}

// page returns the next records after c.
func (m *Monitor) page(ctx context.Context, name string, c cursor) ([]record, error) {
	if !m.shared() {
		page, err := m.opts.Deployments.ListPayloads(ctx, name, 0, c.id, pageSize)
		out := make([]record, len(page))
		for i, p := range page {
			out[i] = record{p, cursor{id: p.ID}}
		}
		return out, err
	}
	var out []record
	txid := strconv.FormatUint(c.txid, 10)
	err := store.ScanEach(ctx, m.opts.DB.Reader(), `SELECT id, role, error, request, CAST(txid AS TEXT) FROM payload_log
		WHERE deployment = ? AND txid < pg_snapshot_xmin(pg_current_snapshot())
		AND (txid, id) > (CAST(CAST(? AS TEXT) AS xid8), ?) ORDER BY txid, id LIMIT ?`,
		[]any{name, txid, c.id, pageSize}, func(rows *sql.Rows) error {
			var r record
			var req, tx string
			if err := rows.Scan(&r.ID, &r.Role, &r.Error, &req, &tx); err != nil {
				return err
			}
			r.Request = json.RawMessage(req)
			t, err := strconv.ParseUint(tx, 10, 64)
			r.at = cursor{txid: t, id: r.ID}
			out = append(out, r)
			return err
		})
	return out, err
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
