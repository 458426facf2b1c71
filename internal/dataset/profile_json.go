package dataset

import (
	"encoding/json"
	"fmt"
	"math"
)

// The JSON form of a profile keeps the sketches (compact base64 for the
// quantile sketch and HyperLogLog registers) and, for people and API
// clients, a few values derived from them: standard deviation, quantiles and
// the most frequent values. Derived values are ignored when decoding.

type profileJSON struct {
	Version       int          `json:"version"`
	Rows          int64        `json:"rows"`
	ExactDistinct int          `json:"exact_distinct"`
	TopCapacity   int          `json:"top_capacity"`
	Columns       []columnJSON `json:"columns"`
}

type columnJSON struct {
	Name          string          `json:"name"`
	Type          Type            `json:"type"`
	Kind          Kind            `json:"kind"`
	Count         int64           `json:"count"`
	Nulls         int64           `json:"nulls"`
	Infinite      int64           `json:"infinite,omitempty"`
	Distinct      int64           `json:"distinct"`
	DistinctExact bool            `json:"distinct_exact"`
	Numbers       *numbersJSON    `json:"numbers,omitempty"`
	Top           []topJSON       `json:"top,omitempty"`
	Values        json.RawMessage `json:"values"`
	// Texts is the sample of a text column's values (TextSampleSize), out of
	// TextsSeen; absent for other kinds and in profiles stored before it.
	Texts     []string `json:"texts,omitempty"`
	TextsSeen int64    `json:"texts_seen,omitempty"`
	TextsCut  bool     `json:"texts_cut,omitempty"` // some were cut to MaxSampledText bytes
}

type numbersJSON struct {
	Count     int64              `json:"count"`
	Min       float64            `json:"min"`
	Max       float64            `json:"max"`
	Mean      float64            `json:"mean"`
	Std       float64            `json:"std"`
	M2        float64            `json:"m2"`
	Quantiles map[string]float64 `json:"quantiles,omitempty"`
	Sketch    *KLL               `json:"sketch"`
}

type topJSON struct {
	Value Value `json:"value"`
	Count int64 `json:"count"`
	Err   int64 `json:"err,omitempty"`
}

// SummaryQuantiles are the quantiles written out for people.
var SummaryQuantiles = []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99}

const summaryTopValues = 10

// MarshalJSON encodes the profile.
func (p *Profile) MarshalJSON() ([]byte, error) {
	enc := profileJSON{Version: ProfileVersion, Rows: p.Rows, ExactDistinct: DefaultExactDistinct, TopCapacity: DefaultTopCapacity,
		Columns: make([]columnJSON, len(p.Columns))}
	for i, c := range p.Columns {
		enc.ExactDistinct, enc.TopCapacity = c.values.limit, c.values.topCapacity
		col, err := c.toJSON()
		if err != nil {
			return nil, err
		}
		enc.Columns[i] = col
	}
	return json.Marshal(enc)
}

func (c *ColumnProfile) toJSON() (columnJSON, error) {
	distinct, exact := c.Distinct()
	values, err := c.values.MarshalJSON()
	if err != nil {
		return columnJSON{}, err
	}
	out := columnJSON{
		Name: c.Name, Type: c.Type, Kind: c.Kind, Count: c.Count, Nulls: c.Nulls, Infinite: c.Infinite,
		Distinct: distinct, DistinctExact: exact, Values: values,
	}
	if c.Numeric() && c.kll != nil {
		out.Numbers = c.numbersJSON()
	}
	if c.Kind == KindText {
		out.Texts, out.TextsSeen, out.TextsCut = c.texts.texts, c.texts.seen, c.texts.cut
	}
	for _, t := range c.TopValues(summaryTopValues) {
		out.Top = append(out.Top, topJSON(t))
	}
	return out, nil
}

func (c *ColumnProfile) numbersJSON() *numbersJSON {
	n := &numbersJSON{Count: c.numbers.n, Sketch: c.kll}
	if c.numbers.n == 0 {
		return n
	}
	n.Min, n.Max, n.Mean, n.Std, n.M2 = c.numbers.min, c.numbers.max, c.numbers.mean, c.numbers.std(), c.numbers.m2
	n.Quantiles = make(map[string]float64, len(SummaryQuantiles))
	for i, q := range c.kll.Quantiles(SummaryQuantiles) {
		n.Quantiles[fmt.Sprintf("p%02d", int(math.Round(SummaryQuantiles[i]*100)))] = q
	}
	return n
}

// UnmarshalJSON decodes a profile and checks that its parts agree.
func (p *Profile) UnmarshalJSON(data []byte) error {
	var dec profileJSON
	if err := json.Unmarshal(data, &dec); err != nil {
		return err
	}
	if dec.Version != ProfileVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrBadProfileFormat, dec.Version, ProfileVersion)
	}
	limit, capacity := dec.ExactDistinct, dec.TopCapacity
	if limit <= 0 || limit > 1<<24 || capacity <= 0 || capacity > 1<<20 {
		return fmt.Errorf("%w: limits %d and %d", ErrBadProfileFormat, limit, capacity)
	}
	out := Profile{Rows: dec.Rows}
	seen := map[string]bool{}
	for _, cj := range dec.Columns {
		if seen[cj.Name] {
			return fmt.Errorf("%w: column %q twice", ErrBadProfileFormat, cj.Name)
		}
		seen[cj.Name] = true
		c, err := cj.column(limit, capacity, dec.Rows)
		if err != nil {
			return err
		}
		out.Columns = append(out.Columns, c)
	}
	*p = out
	return nil
}

func (cj columnJSON) column(limit, capacity int, rows int64) (*ColumnProfile, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: column %q: %s", ErrBadProfileFormat, cj.Name, what)
	}
	if cj.Count < 0 || cj.Nulls < 0 || cj.Infinite < 0 || cj.Infinite > cj.Count || cj.Count+cj.Nulls != rows {
		return nil, bad("counts do not add up")
	}
	c := &ColumnProfile{Name: cj.Name, Count: cj.Count, Nulls: cj.Nulls, Infinite: cj.Infinite, flags: flagsOf(cj.Type)}
	values, err := decodeValueCounter(cj.Values, limit, capacity)
	if err != nil {
		return nil, err
	}
	c.values = values
	if len(cj.Texts) > TextSampleSize || int64(len(cj.Texts)) > cj.TextsSeen && cj.Texts != nil || cj.TextsSeen > cj.Count {
		return nil, bad("texts do not agree with their count")
	}
	for _, t := range cj.Texts {
		if len(t) > MaxSampledText {
			return nil, bad("a sampled text is longer than the sample keeps")
		}
	}
	c.texts = textSample{texts: cj.Texts, seen: cj.TextsSeen, cut: cj.TextsCut}
	if n := cj.Numbers; n != nil {
		if n.Sketch == nil || n.Sketch.N() != n.Count || n.Count+cj.Infinite > cj.Count {
			return nil, bad("numbers do not agree with their sketch")
		}
		c.kll = n.Sketch
		c.numbers = moments{n: n.Count, mean: n.Mean, m2: n.M2, min: n.Min, max: n.Max}
	}
	c.settle()
	if c.Type != cj.Type {
		return nil, bad("unknown type " + string(cj.Type))
	}
	return c, nil
}
