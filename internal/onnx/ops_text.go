package onnx

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() {
	register("", newStringNormalizer, "StringNormalizer")
	register("", newTfIdfVectorizer, "TfIdfVectorizer")
}

// stringNormalizer is StringNormalizer: it drops stopwords from a [C] or [1, C] tensor of
// strings and changes the case of the rest, as onnxruntime does. Case follows Unicode's
// simple mappings; a Turkish or Azeri locale maps dotted and dotless i as those languages do.
type stringNormalizer struct {
	action        string // LOWER, UPPER or NONE
	caseSensitive bool
	compare       string // the case stopwords are compared in when not case-sensitive
	stopwords     map[string]bool
	special       unicode.SpecialCase
}

func newStringNormalizer(n *nodeCtx) (kernel, error) {
	s := &stringNormalizer{
		action:        n.attrs.str("case_change_action", "NONE"),
		caseSensitive: n.attrs.int("is_case_sensitive", 0) != 0,
		stopwords:     map[string]bool{},
	}
	if !slices.Contains([]string{"LOWER", "UPPER", "NONE"}, s.action) {
		return nil, fmt.Errorf("%w: StringNormalizer case_change_action %q", ErrInvalidModel, s.action)
	}
	if loc := strings.ToLower(n.attrs.str("locale", "")); strings.HasPrefix(loc, "tr") || strings.HasPrefix(loc, "az") {
		s.special = unicode.TurkishCase
	}
	s.compare = "LOWER"
	if s.action == "UPPER" {
		s.compare = "UPPER"
	}
	for _, w := range n.attrs.strs("stopwords") {
		if w == "" || !utf8.ValidString(w) {
			return nil, fmt.Errorf("%w: StringNormalizer stopword %q", ErrInvalidModel, w)
		}
		if !s.caseSensitive {
			w = s.changeCase(s.compare, w)
		}
		if s.stopwords[w] {
			return nil, fmt.Errorf("%w: StringNormalizer stopword %q is listed twice", ErrInvalidModel, w)
		}
		s.stopwords[w] = true
	}
	return s, nil
}

func (s *stringNormalizer) changeCase(action, v string) string {
	switch action {
	case "LOWER":
		return strings.Map(func(r rune) rune { return s.toCase(unicode.LowerCase, r) }, v)
	case "UPPER":
		return strings.Map(func(r rune) rune { return s.toCase(unicode.UpperCase, r) }, v)
	}
	return v
}

func (s *stringNormalizer) toCase(c int, r rune) rune {
	switch {
	case s.special == nil:
		return unicode.To(c, r)
	case c == unicode.LowerCase:
		return s.special.ToLower(r)
	}
	return s.special.ToUpper(r)
}

func (s *stringNormalizer) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	src := Data[string](x)
	if src == nil || len(x.Shape) == 0 || len(x.Shape) > 2 || (len(x.Shape) == 2 && x.Shape[0] != 1) || len(src) == 0 {
		return nil, fmt.Errorf("%w: StringNormalizer takes strings of shape [C] or [1, C] with C > 0, got %s%v", ErrInvalidInput, x.Type(), x.Shape)
	}
	out := make([]string, 0, len(src))
	for _, v := range src {
		cased := v
		if s.action != "NONE" || (!s.caseSensitive && len(s.stopwords) > 0) {
			if !utf8.ValidString(v) {
				return nil, fmt.Errorf("%w: StringNormalizer input is not valid UTF-8", ErrInvalidInput)
			}
		}
		if len(s.stopwords) > 0 {
			key := v
			if !s.caseSensitive {
				key = s.changeCase(s.compare, v)
				if s.action != "NONE" {
					cased = key
				}
			}
			if s.stopwords[key] {
				continue
			}
			if s.caseSensitive {
				cased = s.changeCase(s.action, v)
			}
		} else {
			cased = s.changeCase(s.action, v)
		}
		out = append(out, cased)
	}
	if len(out) == 0 {
		out = append(out, "") // onnxruntime's answer when every string is a stopword
	}
	shape := []int64{int64(len(out))}
	if len(x.Shape) == 2 {
		shape = []int64{1, int64(len(out))}
	}
	return one(NewTensor(shape, out)), nil
}

// tfidf is TfIdfVectorizer: counts of the n-grams of a pool in each row of a [C] or
// [N, C] tensor of strings or integers, as term frequencies, inverse document frequencies
// or both. It follows onnxruntime's counting: n-grams with up to max_skip_count skipped
// items between their items, unigrams counted once whatever the skip, in the order
// onnxruntime finds them.
type tfidf struct {
	mode             string
	minGram, maxGram int
	maxSkip          int
	weights          []float32
	outSize          int
	strRoot          map[string]*gramNode
	intRoot          map[int64]*gramNode
}

// gramNode is one item of an n-gram in the pool's trie; id is the output column plus one
// when the items up to it form an n-gram of the pool, 0 otherwise, and weight is then that
// n-gram's weight (weights are the pool's n-grams', in pool order, as onnxruntime reads them).
type gramNode struct {
	id      int
	weight  float32
	strNext map[string]*gramNode
	intNext map[int64]*gramNode
}

func newTfIdfVectorizer(n *nodeCtx) (kernel, error) {
	a := n.attrs
	t := &tfidf{mode: a.str("mode", ""), minGram: int(a.int("min_gram_length", 0)), maxGram: int(a.int("max_gram_length", 0)),
		maxSkip: int(a.int("max_skip_count", 0)), weights: a.floats("weights")}
	counts, indexes := a.ints("ngram_counts"), a.ints("ngram_indexes")
	switch {
	case !slices.Contains([]string{"TF", "IDF", "TFIDF"}, t.mode):
		return nil, fmt.Errorf("%w: TfIdfVectorizer mode %q", ErrInvalidModel, t.mode)
	case t.minGram < 1 || t.maxGram < t.minGram || t.maxGram > len(counts) || t.maxSkip < 0:
		return nil, fmt.Errorf("%w: TfIdfVectorizer n-gram lengths %d to %d, skips %d, over %d n-gram sizes", ErrInvalidModel, t.minGram, t.maxGram, t.maxSkip, len(counts))
	case len(indexes) == 0 || (t.weights != nil && len(t.weights) != len(indexes)):
		return nil, fmt.Errorf("%w: TfIdfVectorizer has %d ngram_indexes and %d weights", ErrInvalidModel, len(indexes), len(t.weights))
	}
	for _, i := range indexes {
		if i < 0 || i >= MaxElements {
			return nil, fmt.Errorf("%w: TfIdfVectorizer ngram index %d", ErrInvalidModel, i)
		}
		t.outSize = max(t.outSize, int(i)+1)
	}
	strs, ints := a.strs("pool_strings"), a.ints("pool_int64s")
	total := len(ints)
	if a.has("pool_strings") {
		total = len(strs)
		t.strRoot = map[string]*gramNode{}
	} else {
		t.intRoot = map[int64]*gramNode{}
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: TfIdfVectorizer has an empty pool", ErrInvalidModel)
	}
	return t, t.buildTrie(counts, indexes, strs, ints, total)
}

// buildTrie loads the pool's n-grams of the lengths the node counts; ids number every
// n-gram of the pool in order.
func (t *tfidf) buildTrie(counts, indexes []int64, strs []string, ints []int64, total int) error {
	id := 0
	for i, start := range counts {
		size := i + 1
		end := int64(total)
		if i+1 < len(counts) {
			end = counts[i+1]
		}
		if start < 0 || end < start || end > int64(total) || (end-start)%int64(size) != 0 {
			return fmt.Errorf("%w: TfIdfVectorizer ngram_counts %v do not divide a pool of %d", ErrInvalidModel, counts, total)
		}
		for p := int(start); p < int(end); p += size {
			if size < t.minGram || size > t.maxGram {
				id++
				continue
			}
			if id >= len(indexes) {
				return fmt.Errorf("%w: TfIdfVectorizer has more n-grams than ngram_indexes (%d)", ErrInvalidModel, len(indexes))
			}
			node := t.insert(strs, ints, p, size)
			if node.id != 0 {
				return fmt.Errorf("%w: TfIdfVectorizer pool holds a %d-gram twice", ErrInvalidModel, size)
			}
			node.id = int(indexes[id]) + 1
			node.weight = 1
			if t.weights != nil {
				node.weight = t.weights[id]
			}
			id++
		}
	}
	return nil
}

func (t *tfidf) insert(strs []string, ints []int64, p, size int) *gramNode {
	var node *gramNode
	sm, im := t.strRoot, t.intRoot
	for q := p; q < p+size; q++ {
		if sm != nil {
			if node = sm[strs[q]]; node == nil {
				node = &gramNode{}
				sm[strs[q]] = node
			}
			if node.strNext == nil {
				node.strNext = map[string]*gramNode{}
			}
			sm = node.strNext
		} else {
			if node = im[ints[q]]; node == nil {
				node = &gramNode{}
				im[ints[q]] = node
			}
			if node.intNext == nil {
				node.intNext = map[int64]*gramNode{}
			}
			im = node.intNext
		}
	}
	return node
}

func (t *tfidf) run(in []Value) ([]Value, error) {
	x, err := tensorArg(in, 0)
	if err != nil {
		return nil, err
	}
	rows, cols := 1, x.Len()
	switch len(x.Shape) {
	case 0, 1:
	case 2:
		if x.Shape[0] < 1 {
			return nil, fmt.Errorf("%w: TfIdfVectorizer takes [C] or [B, C] with B > 0, got %v", ErrInvalidInput, x.Shape)
		}
		rows, cols = int(x.Shape[0]), int(x.Shape[1])
	default:
		return nil, fmt.Errorf("%w: TfIdfVectorizer takes [C] or [B, C], got %v", ErrInvalidInput, x.Shape)
	}
	var key func(i int) (string, int64)
	switch d := x.data.(type) {
	case []string:
		key = func(i int) (string, int64) { return d[i], 0 }
	case []int64:
		key = func(i int) (string, int64) { return "", d[i] }
	case []int32:
		key = func(i int) (string, int64) { return "", int64(d[i]) }
	default:
		return nil, fmt.Errorf("%w: TfIdfVectorizer of %s", ErrInvalidInput, x.Type())
	}
	shape := []int64{int64(rows), int64(t.outSize)}
	if len(x.Shape) < 2 {
		shape = shape[1:]
	}
	out, err := newTensorOf(Float32, shape)
	if err != nil {
		return nil, err
	}
	if (x.DType == String) != (t.strRoot != nil) {
		return one(out), nil // no n-gram of the pool can match: zeros, as onnxruntime gives
	}
	freq := Data[float32](out)
	for r := range rows {
		t.count(key, r*cols, cols, freq[r*t.outSize:(r+1)*t.outSize])
	}
	return one(out), nil
}

// count adds up the n-grams of one row of cols items from base.
func (t *tfidf) count(key func(int) (string, int64), base, cols int, freq []float32) {
	startSize := t.minGram
	for skip := 1; skip <= t.maxSkip+1; skip++ {
		for start := 0; start < cols; start++ {
			if start+skip*(startSize-1) >= cols {
				break
			}
			sm, im := t.strRoot, t.intRoot
			for size, item := 1, start; size <= t.maxGram && item < cols && (len(sm) > 0 || len(im) > 0); size, item = size+1, item+skip {
				s, i := key(base + item)
				var node *gramNode
				if sm != nil {
					node = sm[s]
				} else {
					node = im[i]
				}
				if node == nil {
					break
				}
				if size >= startSize && node.id != 0 {
					t.hit(freq, node)
				}
				sm, im = node.strNext, node.intNext
			}
		}
		// Unigrams do not depend on the skip: they are counted once.
		if startSize == 1 {
			if startSize++; startSize > t.maxGram {
				break
			}
		}
	}
}

// hit records one occurrence of an n-gram: TF counts it, TFIDF adds its weight, IDF sets
// its weight (so of two n-grams sharing a column, the one found last).
func (t *tfidf) hit(freq []float32, node *gramNode) {
	switch t.mode {
	case "TF":
		freq[node.id-1]++
	case "IDF":
		freq[node.id-1] = node.weight
	default:
		freq[node.id-1] += node.weight
	}
}
