package scoring

import (
	"fmt"

	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
)

// EncodePredictions encodes a response as MLflow's scoring server does, byte for byte:
// {"predictions": ...}, where an array is nested lists (numpy's tolist()), a table is
// a list of records (pandas' to_dict(orient="records"), columns in order), a series is
// records too (MLflow writes pd.DataFrame(series): the key is the series' name, or
// "0" when it has none), and a dictionary maps each name to its nested lists. The JSON
// is laid out as Python's json.dumps lays it out (tensorjson.Python): floats as
// Python's repr writes the float64 they are or widen to, NaN and the infinities as
// NaN, Infinity and -Infinity, strings with non-ASCII characters escaped.
//
// A response that does not fit its kind is an error without a fault kind: it is the
// model's fault.
func EncodePredictions(resp *runtime.Response) ([]byte, error) {
	return encode(resp, tensorjson.Python, true)
}

// EncodeV1 encodes a response as KServe v1 does: {"predictions": ...}, as
// EncodePredictions does except that a series is a plain list, and the JSON is
// compact, with floats of their own width (tensorjson.Compact).
func EncodeV1(resp *runtime.Response) ([]byte, error) {
	return encode(resp, tensorjson.Compact, false)
}

func encode(resp *runtime.Response, l tensorjson.Layout, seriesAsRecords bool) ([]byte, error) {
	size := 32
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		if err := tensorjson.CheckOutput(t); err != nil {
			return nil, err
		}
		size += 16 * int(runtime.Elements(t.Shape))
	}
	buf := append(make([]byte, 0, size), `{"predictions"`...)
	buf = l.Colon(buf)
	buf, err := appendPredictions(buf, l, resp, seriesAsRecords)
	if err != nil {
		return nil, err
	}
	return append(buf, '}'), nil
}

func appendPredictions(buf []byte, l tensorjson.Layout, resp *runtime.Response, seriesAsRecords bool) ([]byte, error) {
	outs := resp.Outputs
	kind := resp.Kind
	if kind == "" {
		kind = runtime.ResultDict
		if len(outs) == 1 {
			kind = runtime.ResultArray
		}
	}
	switch kind {
	case runtime.ResultArray, runtime.ResultSeries:
		if len(outs) != 1 {
			return nil, fmt.Errorf("a model result of kind %s has %d outputs, not 1", kind, len(outs))
		}
		if kind == runtime.ResultSeries && seriesAsRecords {
			series := outs[0]
			if series.Name == "" {
				series.Name = "0"
			}
			return appendRecords(buf, l, []runtime.Tensor{series})
		}
		return l.AppendNested(buf, &outs[0]), nil
	case runtime.ResultTable:
		return appendRecords(buf, l, outs)
	case runtime.ResultDict:
		return appendDict(buf, l, outs), nil
	}
	return nil, fmt.Errorf("unknown model result kind %q", kind)
}

// appendRecords writes the columns of a table as a list of records, one per row.
func appendRecords(buf []byte, l tensorjson.Layout, columns []runtime.Tensor) ([]byte, error) {
	rows := int64(0)
	keys := make([][]byte, len(columns))
	for c := range columns {
		col := &columns[c]
		if len(col.Shape) == 0 {
			return nil, fmt.Errorf("column %q of a table result has no rows dimension", col.Name)
		}
		if c == 0 {
			rows = col.Shape[0]
		} else if col.Shape[0] != rows {
			return nil, fmt.Errorf("column %q of a table result has %d rows, column %q has %d", col.Name, col.Shape[0], columns[0].Name, rows)
		}
		keys[c] = l.Colon(l.AppendString(nil, []byte(col.Name)))
	}
	buf = append(buf, '[')
	for r := range int(rows) {
		if r > 0 {
			buf = l.Comma(buf)
		}
		buf = append(buf, '{')
		for c := range columns {
			if c > 0 {
				buf = l.Comma(buf)
			}
			buf = append(buf, keys[c]...)
			buf = l.AppendRow(buf, &columns[c], r)
		}
		buf = append(buf, '}')
	}
	return append(buf, ']'), nil
}

func appendDict(buf []byte, l tensorjson.Layout, outs []runtime.Tensor) []byte {
	buf = append(buf, '{')
	for i := range outs {
		if i > 0 {
			buf = l.Comma(buf)
		}
		buf = l.AppendString(buf, []byte(outs[i].Name))
		buf = l.Colon(buf)
		buf = l.AppendNested(buf, &outs[i])
	}
	return append(buf, '}')
}
