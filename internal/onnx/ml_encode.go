package onnx

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

func init() {
	register("ai.onnx.ml", newImputer, "Imputer")
	register("ai.onnx.ml", newOneHotEncoder, "OneHotEncoder")
	register("ai.onnx.ml", newLabelEncoder, "LabelEncoder")
	register("ai.onnx.ml", newBinarizer, "Binarizer")
	register("ai.onnx.ml", newArrayFeatureExtractor, "ArrayFeatureExtractor")
	register("ai.onnx.ml", newFeatureVectorizer, "FeatureVectorizer")
	register("ai.onnx.ml", newZipMap, "ZipMap")
	register("ai.onnx.ml", newCastMap, "CastMap")
	register("ai.onnx.ml", newDictVectorizer, "DictVectorizer")
}

func newImputer(n *nodeCtx) (kernel, error) {
	fv, iv := n.attrs.floats("imputed_value_floats"), n.attrs.ints("imputed_value_int64s")
	fr, ir := n.attrs.float("replaced_value_float", 0), n.attrs.int("replaced_value_int64", 0)
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		width := 1
		if len(x.Shape) > 0 {
			width = int(x.Shape[len(x.Shape)-1])
		}
		switch d := x.data.(type) {
		case []float32:
			if len(fv) != 1 && len(fv) != width {
				return nil, fmt.Errorf("%w: Imputer has %d values for %d features", ErrInvalidInput, len(fv), width)
			}
			out := slices.Clone(d)
			nan := fr != fr
			for i, v := range out {
				if v == fr || (nan && v != v) {
					out[i] = fv[min(i%width, len(fv)-1)]
				}
			}
			return one(NewTensor(x.Shape, out)), nil
		case []int64:
			if len(iv) != 1 && len(iv) != width {
				return nil, fmt.Errorf("%w: Imputer has %d values for %d features", ErrInvalidInput, len(iv), width)
			}
			out := slices.Clone(d)
			for i, v := range out {
				if v == ir {
					out[i] = iv[min(i%width, len(iv)-1)]
				}
			}
			return one(NewTensor(x.Shape, out)), nil
		}
		return nil, fmt.Errorf("%w: Imputer takes float or int64, got %s", ErrInvalidInput, x.Type())
	}), nil
}

func newOneHotEncoder(n *nodeCtx) (kernel, error) {
	ints, strs := n.attrs.ints("cats_int64s"), n.attrs.strs("cats_strings")
	zeros := n.attrs.int("zeros", 1) == 1
	intIdx, strIdx := map[int64]int{}, map[string]int{}
	for i, c := range ints {
		intIdx[c] = i
	}
	for i, c := range strs {
		strIdx[c] = i
	}
	cats := len(ints) + len(strs)
	if cats == 0 {
		return nil, fmt.Errorf("%w: OneHotEncoder without categories", ErrInvalidModel)
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		shape := append(slices.Clone(x.Shape), int64(cats))
		n, ok := numElements(shape)
		if !ok {
			return nil, fmt.Errorf("%w: OneHotEncoder output %v", ErrInvalidInput, shape)
		}
		out := make([]float32, n)
		lookup := func(i int) (int, bool) {
			switch d := x.data.(type) {
			case []string:
				j, ok := strIdx[d[i]]
				return j, ok
			case []int64:
				j, ok := intIdx[d[i]]
				return j, ok
			case []int32:
				j, ok := intIdx[int64(d[i])]
				return j, ok
			case []float32:
				j, ok := intIdx[int64(d[i])]
				return j, ok
			case []float64:
				j, ok := intIdx[int64(d[i])]
				return j, ok
			}
			return 0, false
		}
		for i := range x.Len() {
			j, ok := lookup(i)
			if !ok {
				if !zeros {
					return nil, fmt.Errorf("%w: OneHotEncoder met an unknown category", ErrInvalidInput)
				}
				continue
			}
			out[i*cats+j] = 1
		}
		return one(NewTensor(shape, out)), nil
	}), nil
}

// labelTable is LabelEncoder's mapping, keyed by the input's string form.
type labelTable struct {
	keys   map[string]int
	nanKey int // index of a NaN key, -1 if none
	values *Tensor
	def    *Tensor // one element
}

func newLabelEncoder(n *nodeCtx) (kernel, error) {
	t, err := labelTableOf(n)
	if err != nil {
		return nil, err
	}
	var reverse *labelTable // opset 1 maps int64 back to its classes_strings
	if n.opset < 2 {
		classes := n.attrs.strs("classes_strings")
		reverse = &labelTable{keys: map[string]int{}, nanKey: -1, values: NewTensor([]int64{int64(len(classes))}, classes),
			def: NewTensor([]int64{1}, []string{n.attrs.str("default_string", "_Unused")})}
		for i := range classes {
			reverse.keys[fmt.Sprint(i)] = i
		}
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		t := t
		if reverse != nil && x.DType != String {
			t = reverse
		}
		idx := make([]int, x.Len())
		for i := range idx {
			j, ok := t.lookup(x, i)
			if !ok {
				j = -1
			}
			idx[i] = j
		}
		out, err := newTensorOf(t.values.DType, slices.Clone(x.Shape))
		if err != nil {
			return nil, err
		}
		copyPicked(out, t.values, t.def, func(i int) (int, bool) {
			if idx[i] < 0 {
				return 0, false
			}
			return idx[i], true
		})
		return one(out), nil
	}), nil
}

func (t *labelTable) lookup(x *Tensor, i int) (int, bool) {
	if f, ok := x.data.([]float32); ok && f[i] != f[i] {
		return t.nanKey, t.nanKey >= 0
	}
	if f, ok := x.data.([]float64); ok && math.IsNaN(f[i]) {
		return t.nanKey, t.nanKey >= 0
	}
	j, ok := t.keys[keyString(x, i)]
	return j, ok
}

func keyString(x *Tensor, i int) string {
	if s, ok := x.data.([]string); ok {
		return s[i]
	}
	return formatElem(x, i)
}

func labelTableOf(n *nodeCtx) (*labelTable, error) {
	a := n.attrs
	if n.opset < 2 {
		classes := a.strs("classes_strings")
		keys := map[string]int{}
		ints := make([]int64, len(classes))
		for i, c := range classes {
			keys[c], ints[i] = i, int64(i)
		}
		// String to int64 by position; int64 to string is the reverse mapping.
		return &labelTable{keys: keys, nanKey: -1, values: NewTensor([]int64{int64(len(ints))}, ints),
			def: NewTensor([]int64{1}, []int64{a.int("default_int64", -1)})}, nil
	}
	keys, err := encoderList(a, "keys")
	if err != nil {
		return nil, err
	}
	values, err := encoderList(a, "values")
	if err != nil {
		return nil, err
	}
	if keys == nil || values == nil || keys.Len() != values.Len() {
		return nil, fmt.Errorf("%w: LabelEncoder keys and values must be set and as long as each other", ErrInvalidModel)
	}
	t := &labelTable{keys: map[string]int{}, nanKey: -1, values: values}
	for i := range keys.Len() {
		if f, ok := keys.data.([]float32); ok && f[i] != f[i] {
			t.nanKey = i
			continue
		}
		t.keys[keyString(keys, i)] = i
	}
	if t.def, err = a.tensor("default_tensor"); err != nil {
		return nil, err
	}
	if t.def == nil || t.def.Len() != 1 || t.def.DType != values.DType {
		switch values.DType {
		case String:
			t.def = NewTensor([]int64{1}, []string{a.str("default_string", "_Unused")})
		case Int64:
			t.def = NewTensor([]int64{1}, []int64{a.int("default_int64", -1)})
		case Float32:
			t.def = NewTensor([]int64{1}, []float32{a.float("default_float", float32(math.Copysign(0, -1)))})
		default:
			return nil, fmt.Errorf("%w: LabelEncoder values of type %s need default_tensor", ErrInvalidModel, values.DType)
		}
	}
	return t, nil
}

// encoderList reads keys_* or values_* of LabelEncoder.
func encoderList(a attrs, prefix string) (*Tensor, error) {
	switch {
	case a.has(prefix + "_strings"):
		s := a.strs(prefix + "_strings")
		return NewTensor([]int64{int64(len(s))}, s), nil
	case a.has(prefix + "_int64s"):
		v := a.ints(prefix + "_int64s")
		return NewTensor([]int64{int64(len(v))}, slices.Clone(v)), nil
	case a.has(prefix + "_floats"):
		v := a.floats(prefix + "_floats")
		return NewTensor([]int64{int64(len(v))}, slices.Clone(v)), nil
	}
	return a.tensor(prefix + "_tensor")
}

func newBinarizer(n *nodeCtx) (kernel, error) {
	th := float64(n.attrs.float("threshold", 0))
	return unaryKernel(func(x float64) float64 {
		if x > th {
			return 1
		}
		if math.IsNaN(x) {
			return x
		}
		return 0
	}), nil
}

func newArrayFeatureExtractor(*nodeCtx) (kernel, error) {
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		indices, err := int64Arg(in, 1)
		if err != nil {
			return nil, err
		}
		if len(x.Shape) == 0 || len(indices) == 0 {
			return nil, fmt.Errorf("%w: ArrayFeatureExtractor needs a tensor and indices", ErrInvalidInput)
		}
		last := x.Shape[len(x.Shape)-1]
		for _, i := range indices {
			if i < 0 || i >= last {
				return nil, fmt.Errorf("%w: ArrayFeatureExtractor index %d out of range [0,%d)", ErrInvalidInput, i, last)
			}
		}
		shape := slices.Clone(x.Shape)
		shape[len(shape)-1] = int64(len(indices))
		if len(x.Shape) == 1 {
			shape = []int64{1, int64(len(indices))}
		}
		rows := x.Len() / max(int(last), 1)
		idx := make([]int, 0, rows*len(indices))
		for r := range rows {
			for _, i := range indices {
				idx = append(idx, r*int(last)+int(i))
			}
		}
		return one(pick(x, shape, idx)), nil
	}), nil
}

func newFeatureVectorizer(n *nodeCtx) (kernel, error) {
	dims := n.attrs.ints("inputdimensions")
	total := int64(0)
	for _, d := range dims {
		if d < 0 {
			return nil, fmt.Errorf("%w: negative inputdimensions", ErrInvalidModel)
		}
		total += d
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		if len(in) != len(dims) {
			return nil, fmt.Errorf("%w: FeatureVectorizer has %d inputs for %d dimensions", ErrInvalidInput, len(in), len(dims))
		}
		rows := -1
		cols := make([][]float64, len(in))
		widths := make([]int, len(in))
		for i := range in {
			t, err := tensorArg(in, i)
			if err != nil {
				return nil, err
			}
			r, w := 1, t.Len()
			if len(t.Shape) >= 2 {
				r = int(t.Shape[0])
				w = t.Len() / max(r, 1)
			}
			if rows >= 0 && r != rows {
				return nil, fmt.Errorf("%w: FeatureVectorizer inputs have different batch sizes", ErrInvalidInput)
			}
			rows, widths[i] = r, w
			if cols[i], err = toFloat64s(t); err != nil {
				return nil, err
			}
		}
		if _, ok := numElements([]int64{int64(max(rows, 0)), total}); !ok {
			return nil, fmt.Errorf("%w: FeatureVectorizer output of %d × %d", ErrInvalidInput, rows, total)
		}
		out := make([]float32, max(rows, 0)*int(total))
		for r := range max(rows, 0) {
			pos := r * int(total)
			for i, d := range dims {
				for j := range min(int(d), widths[i]) {
					out[pos+j] = float32(cols[i][r*widths[i]+j])
				}
				pos += int(d)
			}
		}
		return one(NewTensor([]int64{int64(max(rows, 0)), total}, out)), nil
	}), nil
}

func newZipMap(n *nodeCtx) (kernel, error) {
	ints, strs := n.attrs.ints("classlabels_int64s"), n.attrs.strs("classlabels_strings")
	if (len(ints) == 0) == (len(strs) == 0) {
		return nil, fmt.Errorf("%w: ZipMap needs int64 or string class labels, not both", ErrInvalidModel)
	}
	classes := max(len(ints), len(strs))
	keyType := Int64
	if len(strs) > 0 {
		keyType = String
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		x, err := tensorArg(in, 0)
		if err != nil {
			return nil, err
		}
		probs := Data[float32](x)
		if probs == nil || x.Len()%classes != 0 || (len(x.Shape) == 2 && int(x.Shape[1]) != classes) {
			return nil, fmt.Errorf("%w: ZipMap of %s%v for %d classes", ErrInvalidInput, x.Type(), x.Shape, classes)
		}
		rows := x.Len() / classes
		seq := &Sequence{ElemType: "map(" + keyType.String() + ",tensor(float32))", Elems: make([]Value, rows)}
		for r := range rows {
			seq.Elems[r] = &Map{KeyType: keyType, Int64Keys: ints, StringKeys: strs,
				Values: NewTensor([]int64{int64(classes)}, probs[r*classes:r*classes+classes])}
		}
		return []Value{seq}, nil
	}), nil
}

func mapArg(in []Value) (*Map, error) {
	if len(in) == 0 || in[0] == nil {
		return nil, fmt.Errorf("%w: a map input is missing", ErrInvalidInput)
	}
	m, ok := in[0].(*Map)
	if !ok || m.Values == nil || m.Values.Len() != m.Len() {
		return nil, fmt.Errorf("%w: a map is needed, got %s", ErrInvalidInput, in[0].Type())
	}
	return m, nil
}

func newCastMap(n *nodeCtx) (kernel, error) {
	castTo, form := n.attrs.str("cast_to", "TO_FLOAT"), n.attrs.str("map_form", "DENSE")
	maxMap := n.attrs.int("max_map", 1)
	to := map[string]DType{"TO_FLOAT": Float32, "TO_STRING": String, "TO_INT64": Int64}[castTo]
	if to == 0 || (form != "DENSE" && form != "SPARSE") || maxMap < 0 || maxMap > MaxElements {
		return nil, fmt.Errorf("%w: CastMap cast_to %q, map_form %q", ErrInvalidModel, castTo, form)
	}
	return kernelFunc(func(in []Value) ([]Value, error) {
		m, err := mapArg(in)
		if err != nil {
			return nil, err
		}
		if m.KeyType != Int64 {
			return nil, fmt.Errorf("%w: CastMap takes a map with int64 keys", ErrInvalidInput)
		}
		order := make([]int, m.Len())
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return m.Int64Keys[order[a]] < m.Int64Keys[order[b]] })
		vals, err := castTensor(m.Values, to)
		if err != nil {
			return nil, err
		}
		if form == "DENSE" {
			return one(pick(vals, []int64{1, int64(len(order))}, order)), nil
		}
		out, err := newTensorOf(to, []int64{1, maxMap})
		if err != nil {
			return nil, err
		}
		for _, i := range order {
			if k := m.Int64Keys[i]; k >= 0 && k < maxMap {
				copyRange(out, int(k), vals, i, 1)
			}
		}
		return one(out), nil
	}), nil
}

func newDictVectorizer(n *nodeCtx) (kernel, error) {
	ints, strs := n.attrs.ints("int64_vocabulary"), n.attrs.strs("string_vocabulary")
	if (len(ints) == 0) == (len(strs) == 0) {
		return nil, fmt.Errorf("%w: DictVectorizer needs an int64 or a string vocabulary", ErrInvalidModel)
	}
	index := map[string]int{}
	for i, k := range ints {
		index[strconv.FormatInt(k, 10)] = i
	}
	for i, k := range strs {
		index[k] = i
	}
	size := max(len(ints), len(strs))
	return kernelFunc(func(in []Value) ([]Value, error) {
		m, err := mapArg(in)
		if err != nil {
			return nil, err
		}
		if (m.KeyType == String) != (len(strs) > 0) {
			return nil, fmt.Errorf("%w: DictVectorizer keys of type %s", ErrInvalidInput, m.KeyType)
		}
		out, err := newTensorOf(m.Values.DType, []int64{1, int64(size)})
		if err != nil {
			return nil, err
		}
		for i := range m.Len() {
			k := ""
			if m.KeyType == String {
				k = m.StringKeys[i]
			} else {
				k = strconv.FormatInt(m.Int64Keys[i], 10)
			}
			if j, ok := index[k]; ok {
				copyRange(out, j, m.Values, i, 1)
			}
		}
		return one(out), nil
	}), nil
}
