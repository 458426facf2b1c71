package scoring

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mlship/mlship/internal/fault"
	"github.com/mlship/mlship/internal/runtime"
	"github.com/mlship/mlship/internal/serving/tensorjson"
)

// table gathers the cells of a table column by column before the columns are built.
type table struct {
	names []string
	index map[string]int
	cells [][]tensorjson.Value // cells[c][r]; Missing for a record without the column
	rows  int
}

// newTable makes a table of the given rows, with room for columns columns.
func newTable(rows, columns int) *table {
	return &table{index: make(map[string]int, columns), rows: rows, names: make([]string, 0, columns), cells: make([][]tensorjson.Value, 0, columns)}
}

// column returns the index of the named column, adding it if it is new.
func (t *table) column(name string) int {
	if c, ok := t.index[name]; ok {
		return c
	}
	t.index[name] = len(t.names)
	t.names = append(t.names, name)
	t.cells = append(t.cells, make([]tensorjson.Value, t.rows))
	return len(t.names) - 1
}

// request builds the columns, each of shape [rows].
func (t *table) request() (*runtime.Request, error) {
	req := &runtime.Request{Layout: runtime.LayoutColumns, Inputs: make([]runtime.Tensor, len(t.names))}
	for c, name := range t.names {
		col, err := tensorjson.Column(name, t.cells[c])
		if err != nil {
			return nil, invalidInput("%s", fault.Message(err))
		}
		req.Inputs[c] = col
	}
	return req, nil
}

// decodeSplit reads pandas' split orientation: {"columns": [...], "data": [[...],
// ...], "index": [...]}, where only data is required. Without columns, the columns are
// named "0", "1", ... as pandas numbers them. A row shorter than the columns has null
// in the columns it lacks, as pandas fills them.
func decodeSplit(v tensorjson.Value) (*runtime.Request, error) {
	if v.Kind() != tensorjson.Object {
		return nil, invalidInput("Dataframe split format must be a dictionary. Got %s.", typeMessage(v, "list"))
	}
	var keys []string
	var columns, data, index tensorjson.Value
	valid := true
	for k, val := range v.Members() {
		name := k.Str()
		if !slices.Contains(keys, name) {
			keys = append(keys, name)
		}
		switch name {
		case "columns":
			columns = val
		case "data":
			data = val
		case "index":
			index = val
		default:
			valid = false
		}
	}
	if !valid || data.Kind() == tensorjson.Missing {
		return nil, invalidInput("Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got %s.'", pythonSet(keys))
	}
	t, err := splitTable(columns, data, index)
	if err != nil {
		return nil, invalidInput("Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '%s'", err)
	}
	return t.request()
}

func splitTable(columns, data, index tensorjson.Value) (*table, error) {
	if data.Kind() != tensorjson.Array {
		return nil, fmt.Errorf("data must be a list of rows, not %s", pythonType(data))
	}
	rows := rowsOf(data)
	names, err := splitColumns(columns, rows)
	if err != nil {
		return nil, err
	}
	if index.Kind() != tensorjson.Missing && index.Kind() != tensorjson.Null {
		if index.Kind() != tensorjson.Array || index.Len() != len(rows) {
			return nil, fmt.Errorf("Length of values (%d) does not match length of index (%d)", len(rows), index.Len())
		}
	}
	t := newTable(len(rows), len(names))
	backing := make([]tensorjson.Value, len(rows)*len(names))
	for c, name := range names {
		if _, dup := t.index[name]; dup {
			return nil, fmt.Errorf("column %q appears twice", name)
		}
		t.index[name] = c
		t.names = append(t.names, name)
		t.cells = append(t.cells, backing[c*len(rows):(c+1)*len(rows):(c+1)*len(rows)])
	}
	for r, row := range rows {
		if len(row) > len(names) {
			return nil, fmt.Errorf("%d columns passed, passed data had %d columns", len(names), len(row))
		}
		for c, cell := range row {
			t.cells[c][r] = cell
		}
	}
	return t, nil
}

// rowsOf lists the cells of each row of split data. A row that is not a list is a
// row of one cell, as pandas reads a flat list as one column.
func rowsOf(data tensorjson.Value) [][]tensorjson.Value {
	rows := make([][]tensorjson.Value, 0, data.Len())
	for row := range data.Elems() {
		if row.Kind() != tensorjson.Array {
			rows = append(rows, []tensorjson.Value{row})
			continue
		}
		cells := make([]tensorjson.Value, 0, row.Len())
		for c := range row.Elems() {
			cells = append(cells, c)
		}
		rows = append(rows, cells)
	}
	return rows
}

func splitColumns(columns tensorjson.Value, rows [][]tensorjson.Value) ([]string, error) {
	if columns.Kind() == tensorjson.Missing || columns.Kind() == tensorjson.Null {
		n := 0
		for _, row := range rows {
			n = max(n, len(row))
		}
		names := make([]string, n)
		for i := range names {
			names[i] = strconv.Itoa(i)
		}
		return names, nil
	}
	if columns.Kind() != tensorjson.Array {
		return nil, fmt.Errorf("columns must be a list of names, not %s", pythonType(columns))
	}
	names := make([]string, 0, columns.Len())
	for c := range columns.Elems() {
		switch {
		case c.Kind() == tensorjson.String:
			names = append(names, c.Str())
		case c.IsInteger():
			names = append(names, string(c.Text()))
		default:
			return nil, fmt.Errorf("column names must be strings or integers, not %s", pythonType(c))
		}
	}
	return names, nil
}

// decodeRecords reads pandas' records orientation: a list of {column: value}. The
// columns are in the order they first appear; a record without a column has null
// there.
func decodeRecords(v tensorjson.Value) (*runtime.Request, error) {
	if v.Kind() != tensorjson.Array {
		return nil, invalidInput("Dataframe records format must be a list of records. Got %s.", typeMessage(v, "dictionary"))
	}
	t := newTable(v.Len(), 0)
	r := 0
	for rec := range v.Elems() {
		if rec.Kind() != tensorjson.Object {
			return nil, invalidInput("Provided dataframe_records field is not a valid dataframe representation in 'records' format. Error: 'record %d is %s, not a dictionary'", r, pythonType(rec))
		}
		for k, cell := range rec.Members() {
			t.cells[t.column(k.Str())][r] = cell
		}
		r++
	}
	return t.request()
}

// typeMessage is how MLflow names the type of a wrongly shaped format: the word it
// uses for the likely mistake, or else the Python type.
func typeMessage(v tensorjson.Value, word string) string {
	if (word == "list" && v.Kind() == tensorjson.Array) || (word == "dictionary" && v.Kind() == tensorjson.Object) {
		return word
	}
	return fmt.Sprintf("type <class '%s'>", pythonType(v))
}

// pythonSet writes a set of strings as Python's repr does (in the given order).
func pythonSet(items []string) string {
	l := pythonList(items)
	return "{" + strings.TrimSuffix(strings.TrimPrefix(l, "["), "]") + "}"
}
